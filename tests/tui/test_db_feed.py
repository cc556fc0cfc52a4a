"""The war room on the incident history: `DbFeed` over a SQLite store filled by the real engine."""

from __future__ import annotations

import asyncio
import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import toasts
from sqlalchemy.engine import Engine
from sqlmodel import Session
from textual.pilot import Pilot
from warroom_records import NOW

from correlator.core.timefmt import SECOND, parse_time
from correlator.errors import CorrelatorError
from correlator.replay import Replay, read_inputs
from correlator.store import open_store, record_event
from correlator.topology_files import load_topology
from correlator.wire import event_to_dict
from tui.app import WarRoomApp
from tui.feeds import DbFeed
from tui.feeds.db import READ_ONLY_ACK, history_summary
from tui.screens.main import MainScreen
from tui.widgets.impact_header import ImpactHeader
from tui.widgets.incident_table import IncidentTable
from tui.widgets.stale_banner import StaleBanner

ROOT = Path(__file__).resolve().parents[2]
CART = "inc-447ceffc1e5b"


def cart_shard_down() -> list[dict[str, Any]]:
    """The six `incident.events` the engine publishes for the cart-shard scenario: opened,
    updated (2, 3: 100,100 customers cut off; 4, 5: only degraded), resolved (6)."""
    replay = Replay(load_topology(ROOT / "topologies" / "acme-shop.yaml"))
    inputs = read_inputs([ROOT / "topologies" / "scenarios" / "acme-shop-cart-shard-down.jsonl"])
    return [
        copy.deepcopy(event_to_dict(e)) for _, result in replay.run(inputs) for e in result.events
    ]


EVENTS = cart_shard_down()
NEWEST_OPEN_MS = parse_time(EVENTS[2]["at"])
CART_TITLE = EVENTS[2]["incident"]["title"]


def store(tmp_path: Path, events: list[dict[str, Any]]) -> tuple[str, Engine]:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    engine = open_store(url)
    record(engine, events)
    return url, engine


def record(engine: Engine, events: list[dict[str, Any]]) -> None:
    with Session(engine) as session:
        for event in events:
            assert record_event(session, event)
        session.commit()


def other_incident() -> dict[str, Any]:
    """A second, hand-built open incident (an opened event) on the same store."""
    event = copy.deepcopy(EVENTS[0])
    snap = event["incident"]
    snap.update(
        id="inc-search",
        seq=1,
        severity="SEV3",
        peak_severity="SEV3",
        title="Search slow",
        customers_affected=7,
        peak_customers_affected=7,
    )
    snap["segments"] = [
        {
            "id": "shoppers-eu",
            "name": "EU shoppers",
            "customers": 120000,
            "affected": 7,
            "degraded": 0,
        }
    ]
    event["seq"] = 1
    return event


def cells(app: WarRoomApp) -> dict[str, tuple[str, str]]:
    """(customers, title) per shown incident."""
    table = app.screen.query_one(IncidentTable)
    return {
        str(key.value): (
            table.get_cell(key, "customers").plain,
            table.get_cell(key, "title").plain,
        )
        for key in table.rows
    }


async def wait_until(pilot: Pilot[None], check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            app = pilot.app
            assert isinstance(app, WarRoomApp)
            raise AssertionError(f"timed out; shown: {cells(app)}")
        await pilot.pause(0.05)


def feed_on(url: str, now_ms: int = NEWEST_OPEN_MS + 5 * SECOND) -> DbFeed:
    return DbFeed(url, poll_interval=0.05, backoff_max=0.1, clock=lambda: now_ms / 1000)


async def test_open_incidents_become_rows_and_new_events_follow(tmp_path: Path) -> None:
    url, engine = store(tmp_path, [*EVENTS[:3], other_incident()])
    feed = feed_on(url)
    app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: len(cells(app)) == 2)
        assert cells(app) == {
            CART: ("100,100", CART_TITLE),
            "inc-search": ("7", "Search slow"),
        }
        assert feed.connected
        assert app.link == "live"

        # The worker's sink records more while the war room runs: the next poll shows them.
        record(engine, [EVENTS[3]])
        await wait_until(pilot, lambda: cells(app)[CART][0] == "0")
        assert cells(app)[CART] == ("0", EVENTS[3]["incident"]["title"])
        record(engine, EVENTS[4:])
        await wait_until(pilot, lambda: CART not in cells(app))
        assert list(cells(app)) == ["inc-search"]


async def test_a_missing_database_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CorrelatorError, match="no such database file") as info:
        DbFeed(f"sqlite:///{tmp_path / 'missing.db'}")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "missing.db").exists()  # read-only: nothing created


async def test_acknowledging_says_the_history_is_read_only(tmp_path: Path) -> None:
    url, _ = store(tmp_path, EVENTS[:3])
    feed = feed_on(url)
    app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await wait_until(pilot, lambda: CART in cells(app))
        await pilot.press("a")
        await wait_until(pilot, lambda: bool(toasts(app)))
        assert toasts(app) == [f"not acknowledged\n{READ_ONLY_ACK}"]
        assert app.state.pending_acks == {}
        assert app.is_running
    with pytest.raises(CorrelatorError, match="read-only"):
        await feed.acknowledge(CART, "sam")


@pytest.mark.parametrize(
    ("age_seconds", "reasons"), [(5, ()), (3600, ("ingest lag 3600 s",))], ids=["fresh", "old"]
)
async def test_the_header_shows_history_and_stale_when_it_is_old(
    tmp_path: Path, age_seconds: int, reasons: tuple[str, ...]
) -> None:
    url, _ = store(tmp_path, EVENTS[:3])
    feed = feed_on(url, now_ms=NEWEST_OPEN_MS + age_seconds * SECOND)
    app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
    async with app.run_test(size=(140, 40)) as pilot:
        header = app.screen.query_one(ImpactHeader)
        await wait_until(pilot, lambda: header.customers_affected is not None)
        assert header.customers_affected == 100_100
        assert header.feed_name == f"history {url} (read-only)"
        assert app.screen.query_one(StaleBanner).reasons == reasons


async def test_a_lost_database_flips_connected_and_comes_back(tmp_path: Path) -> None:
    url, engine = store(tmp_path, EVENTS[:3])
    engine.dispose()
    path = tmp_path / "history.db"
    feed = feed_on(url)
    app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: feed.connected)
        path.rename(tmp_path / "away.db")
        await wait_until(pilot, lambda: not feed.connected)
        assert app.link == "disconnected"
        assert (feed.link_error or "").startswith("history database unreachable (")
        assert not path.exists()  # the feed did not create an empty database in its place
        (tmp_path / "away.db").rename(path)
        await wait_until(pilot, lambda: feed.connected)
        assert CART in cells(app)


async def test_the_timeline_of_an_open_incident_comes_from_the_whole_history(
    tmp_path: Path,
) -> None:
    """Even when its events are older than the recent ones the feed starts with."""
    url, _ = store(tmp_path, [*EVENTS[:3], other_incident()])
    feed = DbFeed(url, poll_interval=0.05, recent_events=1)
    app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_until(pilot, lambda: "incident timeline" in screen.detail_text())
        timelines = app.state.timelines
        await wait_until(pilot, lambda: CART in timelines and len(timelines[CART].entries) >= 3)
        timeline = app.state.timelines[CART]
        assert [(e.seq, e.kind) for e in timeline.entries] == [
            (1, "opened"),
            (2, "updated"),
            (3, "updated"),
        ]
        if screen.selected_id != CART:
            await pilot.press("j")
        await wait_until(pilot, lambda: screen.selected_id == CART)
        # The state leads the screen by up to one repaint (a timer repaints when dirty).
        await wait_until(pilot, lambda: len(_timeline_lines(screen.detail_text())) >= 3)
        lines = [line.split(None, 2)[1] for line in _timeline_lines(screen.detail_text())]
        assert lines == ["opened", "updated", "updated"]


def _timeline_lines(text: str) -> list[str]:
    """The rows of the "incident timeline" section of the detail pane's text."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("incident timeline"))
    rows = []
    for line in lines[start + 1 :]:
        if not line[:2].isdigit():
            break
        rows.append(line)
    return rows


def test_the_summary_is_an_upper_bound_when_incidents_share_a_segment() -> None:
    cart = EVENTS[2]["incident"]
    search = other_incident()["incident"]
    alone = history_summary([cart], NEWEST_OPEN_MS, NEWEST_OPEN_MS + 2 * SECOND)
    assert (alone["customers_affected"], alone["estimated"], alone["ingest_lag_seconds"]) == (
        100_100,
        False,
        2.0,
    )
    both = history_summary([cart, search], NEWEST_OPEN_MS, NEWEST_OPEN_MS)
    assert (both["customers_affected"], both["estimated"]) == (100_107, True)
    empty = history_summary([], None, NEWEST_OPEN_MS)
    assert empty["customers_affected"] == 0
    assert empty["stale_sources"] == ["history database (no incident events recorded)"]


def test_cli_warroom_on_a_missing_database_exits_2_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "correlator", "warroom", "--db", "sqlite:///missing.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "no such database file" in result.stderr
    assert not (tmp_path / "missing.db").exists()
