"""`MaintenanceBanner`: the planned-work windows in force or to come, one line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.formatting import format_duration
from tui.state import event_ms


class MaintenanceBanner(Static):
    """Shown only while a window is active or scheduled: which, until when, who and why."""

    DEFAULT_CSS = """
    MaintenanceBanner {
        display: none;
        height: auto;
        max-height: 3;
        width: 1fr;
        background: $primary-background;
        padding: 0 1;
    }
    MaintenanceBanner.-shown {
        display: block;
    }
    """

    windows: reactive[tuple[tuple[str, Mapping[str, Any]], ...]] = reactive((), layout=True)
    """(state, window record) of each window in force ("active") or to come ("scheduled")."""
    now_ms: reactive[int] = reactive(0)
    """The clock the remaining times are counted from."""

    def watch_windows(self, windows: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        self.set_class(bool(windows), "-shown")

    def render(self) -> Text:
        text = Text("PLANNED WORK", style="bold")
        for state, window in self.windows:
            covers = [str(c) for c in window.get("components") or ()]
            covers += [
                ",".join(f"{k}={v}" for k, v in sorted(m.items()))
                for m in window.get("match") or ()
                if isinstance(m, dict)
            ]
            text.append("  ·  ")
            text.append(str(window.get("id", "?")), style="bold")
            text.append(f" {' '.join(covers)} ")
            start = event_ms(window.get("starts_at")) or 0
            end = event_ms(window.get("ends_at")) or 0
            if state == "active":
                text.append(f"ends in {format_duration(end - self.now_ms)}", style="italic")
            else:
                text.append(f"starts in {format_duration(start - self.now_ms)}", style="italic")
            reason = str(window.get("reason") or "")
            if reason:
                text.append(f" ({window.get('by', '?')}: {reason})", style="dim")
        return text
