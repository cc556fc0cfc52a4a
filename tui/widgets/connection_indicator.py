"""`ConnectionIndicator`: is the feed live, disconnected, or finished?"""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

LinkState = Literal["live", "connecting", "disconnected", "ended"]


class ConnectionIndicator(Static):
    """A dot and a word for the feed's link, with the feed's name.

    Its width is `auto`, so every reactive that changes the text asks for a new layout: without
    it the width measured for an earlier text clipped a later, longer one (the feed's name went
    missing from the header when the first layout ran before the first frame was shown)."""

    DEFAULT_CSS = """
    ConnectionIndicator {
        width: auto;
        height: 1;
        padding: 0 1;
    }
    """

    link: reactive[LinkState] = reactive("connecting", layout=True)
    """The feed's link state, set by the app."""
    feed_name: reactive[str] = reactive("", layout=True)
    """The feed's description (`kafka host:9092`, `replay ×10`)."""
    link_error: reactive[str | None] = reactive(None, layout=True)
    """Why the feed is not live (`no broker at host:9092 — retrying`), shown instead of the
    link word while set."""

    def render(self) -> Text:
        style = {
            "live": "bold green",
            "connecting": "yellow",
            "disconnected": "bold red",
            "ended": "dim",
        }[self.link]
        text = Text("● ", style=style)
        if self.link_error and self.link in ("connecting", "disconnected"):
            text.append(self.link_error, style="bold red")
            return text
        text.append(self.link, style=style)
        if self.feed_name:
            text.append(f"  {self.feed_name}", style="dim")
        return text
