"""The war room driven through Textual's Pilot on a MemoryFeed."""

from __future__ import annotations

import time

from conftest import AppFactory, settle, toasts, until
from warroom_records import NOW, incident, scenario_records, snapshot, summary

from correlator.core.timefmt import MINUTE
from correlator.errors import CorrelatorError
from tui.app import WarRoomApp
from tui.screens.board import BoardScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.screens.unmapped import UnmappedScreen
from tui.widgets.incident_detail import IncidentDetail
from tui.widgets.incident_table import IncidentTable
from tui.widgets.service_tile import ServiceTile
from tui.widgets.stale_banner import StaleBanner


def main_screen(app: WarRoomApp) -> MainScreen:
    assert isinstance(app.screen, MainScreen)
    return app.screen


def table_ids(app: WarRoomApp) -> list[str]:
    table = app.screen.query_one(IncidentTable)
    return [str(row.value) for row in table.rows]


async def test_rows_and_keyboard_navigation(make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, feed)
        assert table_ids(app) == ["inc-7f3a2c", "inc-19be04", "inc-0c44d1", "inc-5e0b9a"]
        screen = main_screen(app)
        seen = [screen.selected_id]
        for key in ("j", "down", "k", "up", "down", "down", "down", "down"):
            await pilot.press(key)
            seen.append(screen.selected_id)
        assert seen == [
            "inc-7f3a2c",
            "inc-19be04",
            "inc-0c44d1",
            "inc-19be04",
            "inc-7f3a2c",
            "inc-19be04",
            "inc-0c44d1",
            "inc-5e0b9a",
            "inc-5e0b9a",
        ]
        detail = screen.query_one(IncidentDetail)
        assert detail.incident is not None and detail.incident["id"] == "inc-5e0b9a"
        await pilot.press("enter")
        assert app.focused is detail


async def test_selection_follows_the_incident_when_rows_reorder(make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, feed)
        await pilot.press("j", "j")  # inc-0c44d1, SEV3
        feed.push(incident(snapshot("inc-0c44d1", 9, severity="SEV1", customers=300000)))
        await settle(pilot, feed)
        assert table_ids(app)[0] == "inc-0c44d1"
        assert main_screen(app).selected_id == "inc-0c44d1"


async def test_filter_narrows_and_escape_clears(make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, feed)
        await pilot.press("slash", *"search")
        await settle(pilot, feed)
        assert table_ids(app) == ["inc-19be04"]
        await pilot.press("enter")  # keep the filter, back to the table
        assert isinstance(app.focused, IncidentTable)
        assert table_ids(app) == ["inc-19be04"]
        await pilot.press("escape")
        await settle(pilot, feed)
        assert app.state.filter_text == ""
        assert len(table_ids(app)) == 4


async def test_sort_key_cycles(make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, feed)
        await pilot.press("s", "s")
        await settle(pilot, feed)
        assert app.state.sort_key == "newest"
        assert table_ids(app) == ["inc-5e0b9a", "inc-7f3a2c", "inc-19be04", "inc-0c44d1"]
        assert app.screen.query_one(IncidentTable).border_subtitle == "sort: newest"


async def test_board_unmapped_and_help_screens(make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, feed)
        await pilot.press("b")
        await settle(pilot, feed)
        assert isinstance(app.screen, BoardScreen)
        tiles = [(t.service["id"], t.service["state"]) for t in app.screen.query(ServiceTile)]
        assert tiles == [
            ("checkout", "down"),
            ("payments", "down"),
            ("recommendations", "down"),
            ("search", "partial"),
            ("notifications", "degraded"),
            ("browse", "ok"),
            ("accounts", "ok"),
        ]
        await pilot.press("u")
        await settle(pilot, feed)
        assert isinstance(app.screen, UnmappedScreen)
        assert app.screen.query_one("#unmapped").row_count == 3  # type: ignore[attr-defined]
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, UnmappedScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("b", "b")
        assert isinstance(app.screen, MainScreen)
        assert len(app.screen_stack) == 1
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, MainScreen)


async def test_help_lists_every_binding() -> None:
    from tui.screens.help import KEYS

    listed = " ".join(key for key, _, _ in KEYS)
    for binding_key in ("j", "k", "enter", "/", "s", "a", "b", "u", "t", "?", "escape", "q"):
        assert binding_key in listed.split(), binding_key


async def test_acknowledge_sends_id_and_responder(make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records(), user="maria.k")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, feed)
        await pilot.press("j", "a")
        await until(pilot, lambda: bool(feed.acks))
        assert feed.acks == [("inc-19be04", "maria.k")]
        value = feed.ack_records[0]
        assert {k: value[k] for k in ("schema", "type", "incident", "by")} == {
            "schema": 1,
            "type": "ack",
            "incident": "inc-19be04",
            "by": "maria.k",
        }
        assert str(value["at"]).endswith("Z")
        assert app.state.pending_acks == {"inc-19be04": "maria.k"}
        # Already acknowledged (inc-0c44d1 by maria): nothing is sent again.
        await pilot.press("j", "a")
        await until(pilot, lambda: "inc-0c44d1 is already acknowledged by maria" in toasts(app))
        assert feed.acks == [("inc-19be04", "maria.k")]
        # The pipeline's confirmation clears the pending mark.
        feed.push(incident(snapshot("inc-19be04", 3, acknowledged_by="maria.k")))
        await settle(pilot, feed)
        assert app.state.pending_acks == {}


async def test_acknowledge_without_a_name_or_a_broker_sends_nothing(
    make_app: AppFactory,
) -> None:
    app, feed = make_app(scenario_records(), user="")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, feed)
        await pilot.press("a")
        await until(pilot, lambda: any("--as NAME" in t for t in toasts(app)))
        assert feed.acks == []

    class Unreachable(type(feed)):  # type: ignore[misc]
        async def acknowledge(self, incident_id: str, by: str) -> None:
            raise CorrelatorError("broker unreachable")

    failing = Unreachable(scenario_records())
    app = WarRoomApp(failing, user="sam", clock=lambda: NOW, highlight_seconds=0)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, failing)
        await pilot.press("a")
        await until(pilot, lambda: "not acknowledged\nbroker unreachable" in toasts(app))
        assert app.state.pending_acks == {}
        assert app.is_running


async def test_alert_text_is_shown_literally_never_as_markup(make_app: AppFactory) -> None:
    evil_title = "[bold red]x[/] checkout down [@click=app.quit]quit[/]"
    evil_summary = "[@click=app.quit]x[/] and [link=https://evil.example]y[/link]"
    snap = snapshot("inc-evil", 1, severity="SEV1", title=evil_title, customers=5)
    snap["components"][0]["id"] = "[b]db[/b]"
    snap["components"][0]["alerts"][0]["summary"] = evil_summary
    snap["root_causes"] = ["[b]db[/b]"]
    snap["business_services"][0]["name"] = "[i]Checkout[/i]"
    app, feed = make_app([incident(snap)])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, feed)
        screen = main_screen(app)
        text = screen.detail_text()
        for literal in (evil_title, evil_summary, "[b]db[/b]", "[i]Checkout[/i]"):
            assert literal in text, literal
        table = screen.query_one(IncidentTable)
        assert table.get_cell("inc-evil", "title").plain == evil_title
        # Clicking across the pane and the table (where a live @click would sit) does nothing.
        for widget in ("#detail", "#incidents"):
            for x in range(0, 60, 4):
                await pilot.click(widget, offset=(x, 1))
                await pilot.click(widget, offset=(x, 2))
        await pilot.pause()  # until idle: whatever a click set off has run
        assert app.is_running
        assert app.return_code is None


async def test_stale_banner_when_lag_passes_30_seconds(make_app: AppFactory) -> None:
    now = [NOW]
    app, feed = make_app([summary(1000, lag=3)], clock=lambda: now[0])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, feed)
        banner = app.screen.query_one(StaleBanner)
        assert not banner.has_class("-stale")
        feed.push(summary(1000, lag=42))
        await settle(pilot, feed)
        assert banner.has_class("-stale")
        assert banner.reasons == ("ingest lag 42 s",)
        assert "STALE" in banner.render().plain
        feed.push(summary(1000, lag=0.5))
        await settle(pilot, feed)
        assert banner.reasons == ()
        now[0] += 5 * MINUTE  # and then the pipeline goes quiet
        # the once-a-second repaint notices; on a loaded machine allow it a few seconds
        await until(pilot, lambda: bool(banner.reasons))
        assert banner.reasons == ("no impact summary for 5m",)


async def test_changed_rows_flash_briefly(make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records(), highlight_seconds=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, feed)
        table = app.screen.query_one(IncidentTable)
        # The flash is timed on the table's clock, held still here: a busy machine that takes
        # longer than the flash to settle must not see it over already.
        now = [1000.0]
        table.clock = lambda: now[0]
        assert table.fresh_ids() == set()  # the initial picture does not flash
        feed.push(incident(snapshot("inc-new", 1, severity="SEV2", customers=10)))
        await settle(pilot, feed)
        assert table.fresh_ids() == {"inc-new"}
        now[0] += 0.4
        assert table.fresh_ids() == {"inc-new"}
        now[0] += 0.2  # past the half second
        assert table.fresh_ids() == set()


async def test_a_burst_is_coalesced_and_the_app_stays_responsive(make_app: AppFactory) -> None:
    incidents, updates = 50, 100
    records = [
        incident(snapshot(f"inc-{i:02d}", seq, customers=seq * 10 + i))
        for seq in range(1, updates + 1)
        for i in range(incidents)
    ]
    assert len(records) == 5000
    app, feed = make_app([summary(0)])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, feed)
        repaints_before = app.repaints
        started = time.monotonic()
        feed.push_many(records)
        await pilot.press("question_mark")  # a key during the burst is served promptly
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await settle(pilot, feed)
        elapsed = time.monotonic() - started
        assert {k: v["seq"] for k, v in app.state.incidents.items()} == {
            f"inc-{i:02d}": updates for i in range(incidents)
        }
        assert app.state.applied == 5001
        assert app.repaints - repaints_before < 100, "repainted per record instead of coalescing"
        assert elapsed < 15
        assert len(table_ids(app)) == incidents
