"""War-room test helpers: an app on a MemoryFeed with a fixed clock, and a way to let it settle."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from textual.pilot import Pilot
from warroom_records import NOW

from correlator.records import Record
from tui.app import WarRoomApp
from tui.feeds import MemoryFeed

AppFactory = Callable[..., tuple[WarRoomApp, MemoryFeed]]


@pytest.fixture
def make_app() -> AppFactory:
    """`make_app(records, user="sam")` → (app, feed): fixed "now", no row flashing."""

    def make(
        records: Iterable[Record] = (),
        *,
        user: str = "sam",
        clock: Callable[[], int] = lambda: NOW,
        highlight_seconds: float = 0.0,
    ) -> tuple[WarRoomApp, MemoryFeed]:
        feed = MemoryFeed(records)
        app = WarRoomApp(feed, user=user, clock=clock, highlight_seconds=highlight_seconds)
        return app, feed

    return make


async def settle(pilot: Pilot[None], feed: MemoryFeed, *, timeout: float = 10.0) -> None:
    """Wait until the feed is drained and the latest state is on screen."""
    app = pilot.app
    assert isinstance(app, WarRoomApp)
    waited = 0.0
    while feed.pending() or app.state.dirty or app.repaints == 0:
        await pilot.pause(0.05)
        waited += 0.05
        if waited > timeout:
            raise AssertionError(f"war room did not settle: {feed.pending()} records pending")
    app.repaint(force=True)
    # Let every widget the repaint touched render (reactives refresh on the next frames; on a
    # busy machine one pause was not always enough and a snapshot caught a half-drawn header).
    for _ in range(3):
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()


async def until(pilot: Pilot[None], check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Wait until `check()` holds (a condition, never a fixed sleep)."""
    waited = 0.0
    while not check():
        await pilot.pause(0.05)
        waited += 0.05
        if waited > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {check}")


def toasts(app: WarRoomApp) -> list[str]:
    """The notifications on screen as the responder reads them (title, newline, message).
    Textual's `run_test` shows them only with `notifications=True`."""
    return [str(toast.render()) for toast in app.screen.query("Toast")]
