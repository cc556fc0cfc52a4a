"""What every war-room screen receives from the app on a repaint."""

from __future__ import annotations

from dataclasses import dataclass

from textual.screen import Screen

from tui.state import WarRoomState
from tui.widgets.connection_indicator import LinkState


@dataclass(frozen=True, slots=True)
class Frame:
    """One repaint's worth of input: the state (read-only by convention), the clock, the link."""

    state: WarRoomState
    now_ms: int
    link: LinkState
    feed_name: str
    link_error: str | None = None
    """Why the feed is not live, when it knows (`no broker at host:9092 — retrying`)."""


class WarRoomScreen(Screen[None]):
    """A screen the app repaints with `show(frame)` (attributes down; the screen sets its
    widgets' reactives from the frame and never reads the feed)."""

    def show(self, frame: Frame) -> None:
        raise NotImplementedError
