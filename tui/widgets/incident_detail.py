"""`IncidentDetail`: everything a responder needs about the selected incident, on one pane."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from correlator.core.timefmt import format_time
from tui.formatting import format_count, format_duration
from tui.state import event_ms
from tui.widgets.impact_tree import ImpactTree
from tui.widgets.incident_history import HistoryView, IncidentHistory
from tui.widgets.styles import impact_bar, service_label, severity_text, state_text


class IncidentDetail(VerticalScroll, can_focus=True):
    """Title, severity, duration, acknowledgement, segments, services, impact tree, incident
    and alert timelines, owners and runbooks of one incident snapshot.

    With the class `-split` the timelines are left out (the screen shows them in a pane of
    their own on very wide terminals)."""

    DEFAULT_CSS = """
    IncidentDetail {
        height: 1fr;
        border: round $primary 50%;
        border-title-color: $text;
        padding: 0 1;
    }
    IncidentDetail:focus-within {
        border: round $accent;
    }
    IncidentDetail > Static {
        width: 1fr;
        height: auto;
        margin-bottom: 1;
    }
    IncidentDetail.-empty > .section-title, IncidentDetail.-empty > ImpactTree {
        display: none;
    }
    IncidentDetail.-split > IncidentHistory {
        display: none;
    }
    IncidentDetail > .section-title {
        margin-bottom: 0;
        text-style: bold;
        color: $text-muted;
    }
    """

    incident: reactive[Mapping[str, Any] | None] = reactive(None, always_update=True)
    """The snapshot shown (None: nothing selected)."""
    now_ms: reactive[int] = reactive(0)
    """The clock the durations are measured against."""
    pending_ack: reactive[str | None] = reactive(None)
    """Who this war room sent an acknowledgement for, not yet confirmed by a snapshot."""
    history: reactive[HistoryView] = reactive(HistoryView)
    """The incident's events (for the embedded timeline)."""

    def watch_incident(self) -> None:
        self._render_all()

    def watch_now_ms(self) -> None:
        self._render_head()

    def watch_pending_ack(self) -> None:
        self._render_head()

    def watch_history(self, history: HistoryView) -> None:
        if self.is_mounted:
            self.query_one(IncidentHistory).history = history

    def compose(self) -> ComposeResult:
        yield Static(id="detail-head")
        yield Static(id="detail-impact")
        yield IncidentHistory(id="detail-history")
        yield Static("impact tree", classes="section-title")
        yield ImpactTree(id="detail-tree")
        yield Static(id="detail-owners")

    def on_mount(self) -> None:
        self.border_title = "incident"
        self._render_all()

    def _render_all(self) -> None:
        if not self.is_mounted:
            return
        incident = self.incident
        self.border_title = str(incident.get("id")) if incident else "incident"
        self._render_head()
        has = incident is not None
        self.set_class(not has, "-empty")
        self.query_one("#detail-impact", Static).update(impact_section(incident) if has else "")
        self.query_one(ImpactTree).incident = incident
        self.query_one(IncidentHistory).incident = incident
        self.query_one("#detail-owners", Static).update(
            owners_section(incident) if incident else Text()
        )

    def _render_head(self) -> None:
        if not self.is_mounted:
            return
        head = self.query_one("#detail-head", Static)
        if self.incident is None:
            head.update(Text("No incident selected.", style="dim"))
        else:
            head.update(head_section(self.incident, self.now_ms, self.pending_ack))


def head_section(incident: Mapping[str, Any], now_ms: int, pending_ack: str | None) -> Text:
    """Title, then severity · status · duration · acknowledgement."""
    text = Text(str(incident.get("title", "")), style="bold")
    text.append("\n")
    text.append_text(severity_text(incident.get("severity")))
    peak = incident.get("peak_severity")
    if peak and peak != incident.get("severity"):
        text.append(f" (peak {peak})", style="dim")
    text.append(f" · {incident.get('status', '?')}")
    opened = event_ms(incident.get("opened_at"))
    if opened is not None:
        end = event_ms(incident.get("resolved_at")) or now_ms
        text.append(f" · for {format_duration(end - opened)}")
        text.append(f" since {format_time(opened)}", style="dim")
    text.append("\n")
    affected = incident.get("customers_affected")
    text.append(
        f"{format_count(affected) if isinstance(affected, int) else '?'} customers affected",
        style="bold red" if affected else "bold",
    )
    degraded = incident.get("customers_degraded")
    if isinstance(degraded, int) and degraded:
        text.append(f" · {format_count(degraded)} degraded", style="yellow")
    peak_customers = incident.get("peak_customers_affected")
    if isinstance(peak_customers, int) and peak_customers != affected:
        text.append(f" · peak {format_count(peak_customers)}", style="dim")
    if incident.get("estimated"):
        text.append(" · estimated", style="italic")
    text.append("\n")
    by = incident.get("acknowledged_by")
    if by:
        text.append("acknowledged by ", style="green")
        text.append(str(by), style="bold green")
        at = incident.get("acknowledged_at")
        if at:
            text.append(f" at {at}", style="dim")
    elif pending_ack:
        text.append(f"acknowledgement by {pending_ack} sent, awaiting confirmation", style="italic")
    else:
        text.append("not acknowledged — press a to acknowledge", style="bold yellow")
    return text


def impact_section(incident: Mapping[str, Any] | None) -> Group:
    """Customers per segment and business services with state and an impact bar."""
    assert incident is not None
    segments = Table.grid(padding=(0, 2))
    segments.add_column("segment")
    segments.add_column("affected", justify="right")
    segments.add_column("of", justify="right")
    segments.add_column("degraded", justify="right")
    segments.add_row(*(Text(h, style="bold") for h in ("segment", "affected", "of", "degraded")))
    for segment in incident.get("segments") or ():
        if not isinstance(segment, dict):
            continue
        segments.add_row(
            Text(str(segment.get("name") or segment.get("id", "?"))),
            Text(_count(segment.get("affected")), style="red" if segment.get("affected") else ""),
            Text(_count(segment.get("customers"))),
            Text(_count(segment.get("degraded"))),
        )
    services = Table.grid(padding=(0, 2))
    for name in ("service", "tier", "state", "impact", "owner"):
        services.add_column(name)
    services.add_row(*(Text(h, style="bold") for h in ("service", "tier", "state", "impact", "")))
    for service in incident.get("business_services") or ():
        if not isinstance(service, dict):
            continue
        impact = service.get("impact")
        bar = impact_bar(impact)
        if isinstance(impact, int | float):
            bar.append(f" {impact:6.1%}")
        services.add_row(
            Text(service_label(service)),
            Text(str(service.get("tier", ""))),
            state_text(service.get("state")),
            bar,
            Text(str(service.get("owner") or ""), style="dim"),
        )
    return Group(segments, Text(), services)


def owners_section(incident: Mapping[str, Any]) -> Text:
    """Who to call and what to read: owners and runbooks of components and services."""
    text = Text("owners and runbooks", style="bold")
    seen: set[tuple[str, str, str]] = set()
    for kind, items in (
        ("component", incident.get("components") or ()),
        ("service", incident.get("business_services") or ()),
    ):
        for item in items:
            if not isinstance(item, dict):
                continue
            owner, runbook = str(item.get("owner") or ""), str(item.get("runbook") or "")
            if not owner and not runbook:
                continue
            key = (str(item.get("id")), owner, runbook)
            if key in seen:
                continue
            seen.add(key)
            text.append(f"\n  {kind} ", style="dim")
            text.append(str(item.get("id", "?")), style="bold")
            if owner:
                text.append("  owner ")
                text.append(owner)
            if runbook:
                text.append("  runbook ")
                text.append(runbook, style="underline")
    if not seen:
        text.append("\n  none recorded in the topology", style="dim")
    return text


def _count(value: object) -> str:
    return format_count(value) if isinstance(value, int) else ""
