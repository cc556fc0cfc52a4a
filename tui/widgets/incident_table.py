"""`IncidentTable`: open incidents, one row each, worst first; changed rows flash briefly."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from tui.formatting import format_count, format_duration
from tui.state import event_ms
from tui.widgets.styles import FRESH_STYLE, SEVERITY_STYLE, service_label

FIXED_WIDTHS = {"sev": 4, "customers": 9, "services": 16, "age": 5, "ack": 8}
"""Every column but the title has a fixed width; the title takes what is left."""
COLUMNS = ("sev", "customers", "title", "services", "age", "ack")
SERVICES_FROM = 100
"""Below this width the services column is left out (the title needs the room more, and the
detail pane lists the services)."""


@dataclass(frozen=True, slots=True)
class TableView:
    """What the table shows: rows in display order, the clock, and pending acknowledgements."""

    rows: Sequence[Mapping[str, Any]] = ()
    now_ms: int = 0
    pending_acks: Mapping[str, str] = field(default_factory=dict)


class IncidentTable(DataTable[Text]):
    """The incident list. Posts `IncidentHighlighted` when the cursor lands on an incident."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    DEFAULT_CSS = """
    IncidentTable {
        height: 1fr;
    }
    """

    view: reactive[TableView] = reactive(TableView, always_update=True)
    """The rows to show, set by the screen on every repaint."""

    class IncidentHighlighted(Message):
        """The cursor moved to an incident (or to none: `incident_id` is None)."""

        def __init__(self, incident_id: str | None) -> None:
            super().__init__()
            self.incident_id = incident_id

    def __init__(self, *, highlight_seconds: float = 2.0, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id=id)
        self.highlight_seconds = highlight_seconds
        self.clock: Callable[[], float] = time.monotonic
        """The monotonic clock flashes are timed by (a test holds it still)."""
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._seqs: dict[str, int] = {}
        self._fresh_until: dict[str, float] = {}
        self._order: list[str] = []
        self._title_width = 0
        self._columns: tuple[str, ...] = COLUMNS
        self._populated = False

    def watch_view(self, view: TableView) -> None:
        self._sync(view)

    def on_mount(self) -> None:
        self._layout_columns(self.size.width)

    def on_resize(self) -> None:
        if self._title_width != self._title_width_for(self.size.width):
            self._layout_columns(self.size.width)
            self._sync(self.view, rebuild=True)

    @property
    def selected_id(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

    def fresh_ids(self) -> set[str]:
        """Incidents currently flashed as new or changed."""
        now = self.clock()
        return {i for i, until in self._fresh_until.items() if until > now}

    @staticmethod
    def _columns_for(width: int) -> tuple[str, ...]:
        return COLUMNS if width >= SERVICES_FROM else tuple(c for c in COLUMNS if c != "services")

    def _title_width_for(self, width: int) -> int:
        fixed_columns = [c for c in self._columns_for(width) if c != "title"]
        fixed = sum(FIXED_WIDTHS[c] for c in fixed_columns) + 2 * len(self._columns_for(width))
        return max(12, width - fixed - 2)  # the scrollbar

    def _layout_columns(self, width: int) -> None:
        self._title_width = self._title_width_for(width)
        self._columns = self._columns_for(width)
        self.clear(columns=True)
        self._cells.clear()
        self._order = []
        headers = {
            "sev": Text("sev"),
            "customers": Text("customers", justify="right"),
            "title": Text("title"),
            "services": Text("services"),
            "age": Text("age", justify="right"),
            "ack": Text("ack"),
        }
        for key in self._columns:
            width_of = self._title_width if key == "title" else FIXED_WIDTHS[key]
            self.add_column(headers[key], key=key, width=width_of)

    def _sync(self, view: TableView, *, rebuild: bool = False) -> None:
        """Bring the table in line with `view`, touching only changed cells when order holds."""
        now = self.clock()
        flashed = False
        for snapshot in view.rows:
            incident_id, seq = snapshot["id"], snapshot["seq"]
            if self._seqs.get(incident_id) != seq:
                if self._populated and self.highlight_seconds > 0:
                    self._fresh_until[incident_id] = now + self.highlight_seconds
                    flashed = True
                self._seqs[incident_id] = seq
        if flashed:
            # Repaint once the flash is over, even if no record arrives meanwhile.
            self.set_timer(self.highlight_seconds + 0.05, self._unflash)
        self._populated = self._populated or bool(view.rows)
        for incident_id in [i for i, until in self._fresh_until.items() if until <= now]:
            del self._fresh_until[incident_id]

        order = [s["id"] for s in view.rows]
        cells = {s["id"]: self._row_cells(s, view) for s in view.rows}
        selected = self.selected_id
        if rebuild or order != self._order:
            self.clear()
            for incident_id in order:
                self.add_row(*cells[incident_id], key=incident_id)
            self._order = order
            if selected in cells:
                self.move_cursor(row=order.index(selected), animate=False)
        else:
            columns = self._columns
            for incident_id in order:
                old = self._cells.get(incident_id)
                for index, cell in enumerate(cells[incident_id]):
                    if old is None or old[index] != cell:
                        self.update_cell(incident_id, columns[index], cell)
        self._cells = cells
        for gone in set(self._seqs) - set(cells):
            del self._seqs[gone]
        if self.selected_id != selected:
            self.post_message(self.IncidentHighlighted(self.selected_id))

    def _unflash(self) -> None:
        self._sync(self.view)

    def _row_cells(self, snapshot: Mapping[str, Any], view: TableView) -> tuple[Text, ...]:
        incident_id = snapshot["id"]
        fresh = incident_id in self._fresh_until
        sev = str(snapshot.get("severity", "?"))
        affected = snapshot.get("customers_affected")
        services = ", ".join(
            service_label(s) for s in snapshot.get("business_services") or () if isinstance(s, dict)
        )
        opened = event_ms(snapshot.get("opened_at"))
        age = format_duration(view.now_ms - opened) if opened is not None else "?"
        if snapshot.get("acknowledged_by"):
            ack = Text(str(snapshot["acknowledged_by"]), style="green")
        elif incident_id in view.pending_acks:
            ack = Text("sending…", style="italic")
        else:
            ack = Text("—", style="dim")
        by_column = {
            "sev": Text(sev, style=SEVERITY_STYLE.get(sev, "")),
            "customers": Text(
                format_count(affected) if isinstance(affected, int) else "?", justify="right"
            ),
            "title": _title(snapshot),
            "services": Text(services, no_wrap=True, overflow="ellipsis"),
            "age": Text(age, justify="right"),
            "ack": ack,
        }
        cells = tuple(by_column[c] for c in self._columns)
        if fresh:
            for cell in cells[1:]:
                cell.stylize(FRESH_STYLE)
        return cells

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        self.post_message(self.IncidentHighlighted(key))


def _title(snapshot: Mapping[str, Any]) -> Text:
    """The incident's title; planned work is marked as such (it pages nobody)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if snapshot.get("planned") is True:
        text.append("planned ", style="bold italic")
    text.append(str(snapshot.get("title", "")))
    return text
