"""`StaleBanner`: a loud line when the figures cannot be trusted (DESIGN §6 STALE rule)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class StaleBanner(Static):
    """Shown only while `reasons` is non-empty, so a dead pipeline never looks like all-clear."""

    DEFAULT_CSS = """
    StaleBanner {
        display: none;
        height: 1;
        width: 1fr;
        background: $error;
        color: $text;
        text-style: bold;
        padding: 0 1;
    }
    StaleBanner.-stale {
        display: block;
    }
    """

    reasons: reactive[tuple[str, ...]] = reactive(())
    """Why the figures are stale; empty hides the banner."""

    def watch_reasons(self, reasons: tuple[str, ...]) -> None:
        self.set_class(bool(reasons), "-stale")

    def render(self) -> Text:
        text = Text("STALE", style="bold")
        if self.reasons:
            text.append(" — " + "; ".join(self.reasons) + " — figures may be out of date")
        return text
