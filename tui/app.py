"""`WarRoomApp`: the Textual war room. One worker reads the feed; a timer repaints when dirty.

Records are folded into `WarRoomState` as they arrive (cheap); the screen is repainted at most
every `refresh_interval` seconds and only when something changed, so a burst of thousands of
updates costs a handful of repaints (coalescing, as Toolong and Dolphie do).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from typing import ClassVar, Literal

from textual import on, work
from textual.app import App, ScreenStackError
from textual.binding import Binding, BindingType

from correlator.errors import CorrelatorError
from tui.feeds.base import IncidentFeed
from tui.screens.base import Frame, WarRoomScreen
from tui.screens.board import BoardScreen
from tui.screens.help import HelpScreen, IngressHint
from tui.screens.main import MainScreen
from tui.screens.unmapped import UnmappedScreen
from tui.state import WarRoomState
from tui.widgets.connection_indicator import LinkState

log = logging.getLogger(__name__)

Clock = Callable[[], int]
"""Returns "now" as epoch milliseconds."""
TICK_SECONDS = 1.0
"""Repaint at least this often (ages and the STALE silence rule move with time)."""
YIELD_EVERY_SECONDS = 0.005
"""The feed worker gives the event loop a turn after this much uninterrupted folding."""


def wall_clock() -> int:
    return int(time.time() * 1000)


class WarRoomApp(App[None]):
    """Incidents by customers affected, live. `clock="event"` measures ages against the newest
    event time seen (for replays); a callable makes "now" fixed or simulated (tests)."""

    CSS_PATH = "app.tcss"
    TITLE = "correlator war room"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("b", "show('board')", "Board"),
        Binding("u", "show('unmapped')", "Unmapped"),
        Binding("t", "toggle_theme", "Theme", show=False),
    ]

    def __init__(
        self,
        feed: IncidentFeed,
        *,
        user: str = "",
        clock: Clock | Literal["event"] = wall_clock,
        refresh_interval: float = 0.25,
        highlight_seconds: float = 2.0,
        ingress: IngressHint | None = None,
    ) -> None:
        super().__init__()
        self.feed = feed
        self.user = user
        self.ingress = ingress
        """Where responders can post alerts of their own (on the help screen), when known."""
        self.state = WarRoomState()
        self.refresh_interval = refresh_interval
        self.highlight_seconds = highlight_seconds
        self.repaints = 0
        """How many times a screen was repainted (for tests and the benchmark)."""
        self.painted_applied = 0
        """`state.applied` as of the latest repaint (for the benchmark's display lag)."""
        self.on_paint: Callable[[], None] | None = None
        """Called after every repaint (the benchmark's probe)."""
        self._clock = clock
        self._feed_ended = False
        self._last_paint = 0.0
        self._painted: tuple[WarRoomScreen | None, LinkState, str | None] = (
            None,
            "connecting",
            None,
        )

    def now_ms(self) -> int:
        if self._clock == "event":
            return self.state.latest_event_ms or wall_clock()
        return self._clock()

    @property
    def link(self) -> LinkState:
        if self._feed_ended:
            return "ended"
        if self.feed.connected:
            return "live"
        return "disconnected" if self.state.applied else "connecting"

    def get_default_screen(self) -> MainScreen:
        return MainScreen(highlight_seconds=self.highlight_seconds)

    def on_mount(self) -> None:
        if self._clock != "event":  # on the event clock, the first record starts it
            self.state.started_ms = self.now_ms()
        self.set_interval(self.refresh_interval, self.repaint)
        self.consume_feed()
        self.call_after_refresh(self.repaint, force=True)

    async def on_unmount(self) -> None:
        await self.feed.close()

    # -- the feed ------------------------------------------------------------------------------

    @work(exclusive=True, group="feed")
    async def consume_feed(self) -> None:
        """Fold every record into the state; never paint here (the timer does)."""
        state = self.state
        turn_ends = time.perf_counter() + YIELD_EVERY_SECONDS
        records = aiter(self.feed)
        event_clock = self._clock == "event"
        try:
            async for record in records:
                state.apply(record, None if event_clock else self.now_ms())
                if time.perf_counter() >= turn_ends:
                    await asyncio.sleep(0)
                    turn_ends = time.perf_counter() + YIELD_EVERY_SECONDS
        except CorrelatorError as exc:
            self.notify(str(exc), title="feed stopped", severity="error", markup=False)
        except Exception as exc:  # the war room must outlive a broken feed
            log.exception("war room feed failed")
            self.notify(
                f"{type(exc).__name__}: {exc}", title="feed failed", severity="error", markup=False
            )
        finally:
            # Close the feed's generator now (a cancelled worker would leave it to the GC), so a
            # Kafka consumer is stopped rather than reported unclosed.
            if isinstance(records, AsyncGenerator):
                await records.aclose()
        self._feed_ended = True
        self.repaint(force=True)

    # -- painting ------------------------------------------------------------------------------

    def repaint(self, force: bool = False) -> None:
        """Show the state on the current screen if it changed (or time moved on enough)."""
        if not self.is_running:  # shutting down: the screens lose their widgets one by one
            return
        try:
            screen = self.screen
        except ScreenStackError:
            return
        if not isinstance(screen, WarRoomScreen) or not screen.is_mounted:
            return
        now = time.monotonic()
        link = self.link
        link_error = None if link in ("live", "ended") else self.feed.link_error
        if not (
            force
            or self.state.dirty
            or self._painted != (screen, link, link_error)
            or now - self._last_paint >= TICK_SECONDS
        ):
            return
        self.state.dirty = False
        self._last_paint = now
        self._painted = (screen, link, link_error)
        self.painted_applied = self.state.applied
        screen.show(Frame(self.state, self.now_ms(), link, self.feed.description, link_error))
        self.repaints += 1
        if self.on_paint is not None:
            self.on_paint()

    # -- intents from screens ------------------------------------------------------------------

    @on(MainScreen.FilterChanged)
    def _filter_changed(self, event: MainScreen.FilterChanged) -> None:
        self.state.set_filter(event.text)
        self.repaint(force=True)

    @on(MainScreen.SortRequested)
    def _sort_requested(self) -> None:
        self.state.cycle_sort()
        self.repaint(force=True)

    @on(MainScreen.AcknowledgeRequested)
    def _acknowledge_requested(self, event: MainScreen.AcknowledgeRequested) -> None:
        incident_id = event.incident_id
        snapshot = self.state.incidents.get(incident_id, {})
        if snapshot.get("acknowledged_by"):
            self.notify(
                f"{incident_id} is already acknowledged by {snapshot['acknowledged_by']}",
                markup=False,
            )
            return
        if not self.user:
            self.notify(
                "Who are you? Start the war room with --as NAME (or set CORRELATOR_USER).",
                severity="error",
                markup=False,
            )
            return
        self.state.mark_ack_pending(incident_id, self.user)
        self.repaint(force=True)
        self.send_acknowledgement(incident_id, self.user)

    @work(group="acks")
    async def send_acknowledgement(self, incident_id: str, by: str) -> None:
        try:
            await self.feed.acknowledge(incident_id, by)
        except CorrelatorError as exc:
            self.state.clear_ack_pending(incident_id)
            self.notify(str(exc), title="not acknowledged", severity="error", markup=False)
            return
        self.notify(f"Acknowledged {incident_id} as {by}.", markup=False)

    # -- navigation ----------------------------------------------------------------------------

    def action_show(self, name: str) -> None:
        """Open the board or the unmapped screen; the same key again goes back."""
        screens: dict[str, type[WarRoomScreen]] = {
            "board": BoardScreen,
            "unmapped": UnmappedScreen,
        }
        wanted = screens[name]
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        current = self.screen
        if isinstance(current, wanted):
            self.pop_screen()
        elif isinstance(current, MainScreen):
            self.push_screen(wanted())
        else:
            self.switch_screen(wanted())
        self.call_after_refresh(self.repaint, force=True)

    def action_show_main(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if not isinstance(self.screen, MainScreen) and len(self.screen_stack) > 1:
            self.pop_screen()
        self.call_after_refresh(self.repaint, force=True)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(ingress=self.ingress))

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
