"""`IncidentHistory`: what happened to the selected incident — its events (opened, updated with
what changed, acknowledged, merged, resolved) and its component alerts, each with a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static

from correlator.core.timefmt import format_time
from tui.state import event_ms
from tui.timeline import TimelineEntry
from tui.widgets.styles import ALERT_STYLE

KIND_STYLE: Final[Mapping[str, str]] = {
    "opened": "bold red",
    "reopened": "bold red",
    "updated": "",
    "acknowledged": "green",
    "resolved": "bold green",
    "merged": "cyan",
    "absorbed": "cyan",
}


@dataclass(frozen=True, slots=True)
class HistoryView:
    """An incident's timeline as shown: entries oldest first, and how many earlier events of
    it this war room never received."""

    entries: Sequence[TimelineEntry] = ()
    missing: int = 0


class IncidentHistory(Vertical):
    """The incident timeline, then the alert timeline (both plain `Text`, never markup)."""

    DEFAULT_CSS = """
    IncidentHistory {
        height: auto;
    }
    IncidentHistory > Static {
        width: 1fr;
        height: auto;
        margin-bottom: 1;
    }
    """

    incident: reactive[Mapping[str, Any] | None] = reactive(None, always_update=True)
    """The snapshot whose alerts are listed (None: nothing selected)."""
    history: reactive[HistoryView] = reactive(HistoryView)
    """The selected incident's events, set by the screen."""

    def compose(self) -> ComposeResult:
        yield Static(classes="events")
        yield Static(classes="alerts")

    def on_mount(self) -> None:
        self._render_all()

    def watch_incident(self) -> None:
        self._render_all()

    def watch_history(self) -> None:
        self._render_all()

    def _render_all(self) -> None:
        if not self.is_mounted:
            return
        incident = self.incident
        self.query_one(".events", Static).update(
            events_section(self.history) if incident else Text()
        )
        self.query_one(".alerts", Static).update(alerts_section(incident) if incident else Text())


def events_section(view: HistoryView) -> Group:
    """One row per event: time, kind, what changed (wrapped lines stay in their column)."""
    title = Text("incident timeline", style="bold")
    if view.missing:
        plural = "s" if view.missing != 1 else ""
        title.append(f" (… {view.missing} earlier event{plural} not received)", style="dim")
    rows = _grid(3)
    for entry in view.entries:
        at = format_time(entry.at_ms)[11:19] if entry.at_ms is not None else "--:--:--"
        rows.add_row(
            Text(at, style="dim"),
            Text(entry.kind, style=KIND_STYLE.get(entry.kind, "")),
            Text(" · ".join(entry.changes)),
        )
    if not view.entries:
        return Group(title, Text("no events received for it yet", style="dim"))
    return Group(title, rows)


def alerts_section(incident: Mapping[str, Any]) -> Group:
    """Every listed component alert, oldest first."""
    alerts: list[tuple[int, str, Mapping[str, Any]]] = []
    for component in incident.get("components") or ():
        if not isinstance(component, dict):
            continue
        for alert in component.get("alerts") or ():
            if isinstance(alert, dict):
                starts = event_ms(alert.get("starts_at"))
                alerts.append((starts if starts is not None else 0, str(component["id"]), alert))
    alerts.sort(key=lambda item: (item[0], item[1], str(item[2].get("fingerprint", ""))))
    title = Text("alert timeline", style="bold")
    total = incident.get("alert_count")
    if isinstance(total, int) and total > len(alerts):
        title.append(f" ({len(alerts)} newest of {total})", style="dim")
    if not alerts:
        return Group(title, Text("no alerts listed", style="dim"))
    rows = _grid(3)
    for starts, component_id, alert in alerts:
        severity = str(alert.get("severity", ""))
        what = Text(component_id, style="bold")
        what.append("  ")
        what.append(str(alert.get("summary") or alert.get("fingerprint") or ""))
        rows.add_row(
            Text(format_time(starts)[11:19] if starts else "--:--:--", style="dim"),
            Text(severity[:4], style=ALERT_STYLE.get(severity, "")),
            what,
        )
    return Group(title, rows)


def _grid(columns: int) -> Table:
    grid = Table.grid(padding=(0, 1))
    for _ in range(columns - 1):
        grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    return grid
