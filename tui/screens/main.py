"""`MainScreen`: the headline, the incident list and the selected incident's detail."""

from __future__ import annotations

import io
from typing import ClassVar

from rich.console import Console, ConsoleRenderable
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Input, Static
from textual.widgets.tree import TreeNode

from tui.screens.base import Frame, WarRoomScreen
from tui.widgets.impact_header import ImpactHeader
from tui.widgets.impact_tree import ImpactTree
from tui.widgets.incident_detail import IncidentDetail
from tui.widgets.incident_history import HistoryView, IncidentHistory
from tui.widgets.incident_table import IncidentTable, TableView
from tui.widgets.maintenance_banner import MaintenanceBanner
from tui.widgets.stale_banner import StaleBanner

WIDE = 120
"""From this many columns on, the detail pane sits beside the list instead of below it, and the
selected incident's timelines move under the list (where a short list leaves room)."""


class MainScreen(WarRoomScreen):
    """Incidents by customers affected. Posts its user's intents; the app owns the state."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "focus_detail", "Detail"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("a", "acknowledge", "Ack"),
        Binding("escape", "back", "Back", show=False),
    ]

    class FilterChanged(Message):
        """The responder typed in the filter box."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class SortRequested(Message):
        """The responder asked for the next sort key."""

    class AcknowledgeRequested(Message):
        """The responder asked to acknowledge this incident."""

        def __init__(self, incident_id: str) -> None:
            super().__init__()
            self.incident_id = incident_id

    def __init__(self, *, highlight_seconds: float = 2.0) -> None:
        super().__init__()
        self._highlight_seconds = highlight_seconds
        self._frame: Frame | None = None
        self._selected: str | None = None

    def compose(self) -> ComposeResult:
        yield ImpactHeader()
        yield StaleBanner()
        yield MaintenanceBanner()
        with Container(id="panes"):
            with Vertical(id="left"):
                yield IncidentTable(highlight_seconds=self._highlight_seconds, id="incidents")
                with VerticalScroll(id="history-pane"):
                    yield IncidentHistory(id="side-history")
            yield IncidentDetail(id="detail")
        yield Input(placeholder="filter: id, title, service or component", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#history-pane").border_title = "timeline"
        self.query_one(IncidentTable).focus()

    def on_resize(self) -> None:
        wide = self.size.width >= WIDE
        self.set_class(wide, "-wide")
        self.query_one(IncidentDetail).set_class(wide, "-split")

    @property
    def selected_id(self) -> str | None:
        return self._selected

    def show(self, frame: Frame) -> None:
        self._frame = frame
        state = frame.state
        header = self.query_one(ImpactHeader)
        summary = state.summary or {}
        affected = summary.get("customers_affected")
        header.customers_affected = affected if isinstance(affected, int) else None
        header.customers_degraded = int(summary.get("customers_degraded") or 0)
        header.customers_total = int(summary.get("customers_total") or 0)
        header.estimated = bool(summary.get("estimated"))
        header.severity_counts = state.severity_counts()
        header.history = state.sparkline()
        header.link = frame.link
        header.feed_name = frame.feed_name
        header.link_error = frame.link_error
        self.query_one(StaleBanner).reasons = tuple(state.stale_reasons(frame.now_ms))
        banner = self.query_one(MaintenanceBanner)
        banner.now_ms = frame.now_ms
        banner.windows = tuple(state.maintenance_windows(frame.now_ms))

        rows = state.rows()
        table = self.query_one(IncidentTable)
        table.border_title = f"{len(rows)} open incident{'s' if len(rows) != 1 else ''}"
        planned = sum(1 for r in rows if r.get("planned") is True)
        if planned:
            table.border_title += f" ({planned} planned work, listed last)"
        if state.filter_text:
            table.border_title += f" matching {state.filter_text!r}"
        table.border_subtitle = f"sort: {state.sort_key}"
        table.view = TableView(rows, frame.now_ms, dict(state.pending_acks))
        self._selected = table.selected_id
        self._show_detail()

    def _show_detail(self) -> None:
        frame = self._frame
        detail = self.query_one(IncidentDetail)
        snapshot = frame.state.incidents.get(self._selected) if frame and self._selected else None
        if detail.incident is not snapshot:
            detail.incident = snapshot
        side = self.query_one("#side-history", IncidentHistory)
        if side.incident is not snapshot:
            side.incident = snapshot
        timeline = frame.state.timelines.get(self._selected) if frame and self._selected else None
        history = (
            HistoryView(tuple(timeline.entries), timeline.missing) if timeline else HistoryView()
        )
        detail.history = side.history = history
        if frame is not None:
            detail.now_ms = frame.now_ms
            detail.pending_ack = (
                frame.state.pending_acks.get(self._selected) if self._selected else None
            )

    @on(IncidentTable.IncidentHighlighted)
    def _incident_highlighted(self, event: IncidentTable.IncidentHighlighted) -> None:
        if event.incident_id != self._selected:
            self._selected = event.incident_id
            self._show_detail()

    def action_focus_detail(self) -> None:
        self.query_one(IncidentDetail).focus()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-open")
        box.focus()

    def action_sort(self) -> None:
        self.post_message(self.SortRequested())

    def action_acknowledge(self) -> None:
        if self._selected is None:
            self.notify("No incident selected.", severity="warning")
            return
        self.post_message(self.AcknowledgeRequested(self._selected))

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("-open"):
            box.value = ""
            box.remove_class("-open")
        self.query_one(IncidentTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.post_message(self.FilterChanged(event.value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        if not box.value:
            box.remove_class("-open")
        self.query_one(IncidentTable).focus()

    @on(DataTable.RowSelected, "#incidents")
    def _row_selected(self) -> None:
        self.action_focus_detail()

    def detail_text(self) -> str:
        """The detail pane as plain text, tree included (for tests and screen readers)."""
        console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
        detail = self.query_one(IncidentDetail)
        for static in detail.query(Static):
            if isinstance(static.content, ConsoleRenderable | str):
                console.print(static.content, markup=False)
        for node in _walk(detail.query_one(ImpactTree).root):
            console.print(node.label, markup=False)
        return console.export_text()


def _walk(node: TreeNode[str]) -> list[TreeNode[str]]:
    nodes = [node]
    for child in node.children:
        nodes.extend(_walk(child))
    return nodes
