"""Snapshot tests (pytest-textual-snapshot) from the fixed scenario in data/, at a fixed "now".

Regenerate after an intended change with `pytest tests/tui --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from conftest import AppFactory, settle
from textual.pilot import Pilot
from warroom_records import NOW, scenario_records, summary

from tui.app import WarRoomApp
from tui.feeds import MemoryFeed
from tui.screens.help import IngressHint

SnapCompare = Callable[..., bool]


def settled(feed: MemoryFeed, *keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot, feed)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, feed)

    return run_before


def test_main_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records())
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled(feed))


def test_main_stale_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app, feed = make_app([*scenario_records(), summary(153000, lag=95)])
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled(feed, "j"))


def test_board_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records())
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled(feed, "b"))


def test_unmapped_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records())
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled(feed, "u"))


def test_main_100x30(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    """The list over the detail; the incident timeline inside the detail."""
    app, feed = make_app(scenario_records())
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled(feed))


def test_main_wide_160x48(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    """Side by side: the list over the timelines, the detail (with the grouped tree) beside."""
    app, feed = make_app(scenario_records())
    assert snap_compare(app, terminal_size=(160, 48), run_before=settled(feed))


def test_main_wide_220x50(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records())
    assert snap_compare(app, terminal_size=(220, 50), run_before=settled(feed))


def test_help_with_ingress_100x30(snap_compare: SnapCompare) -> None:
    feed = MemoryFeed(scenario_records())
    app = WarRoomApp(
        feed,
        user="sam",
        clock=lambda: NOW,
        highlight_seconds=0,
        ingress=IngressHint("http://127.0.0.1:6066/ingest", "CORRELATOR_INGEST_TOKEN"),
    )
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled(feed, "question_mark"))
