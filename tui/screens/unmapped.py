"""`UnmappedScreen`: alerts that matched no component — gaps in the topology, by label set."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from correlator.core.timefmt import format_time
from tui.screens.base import Frame, WarRoomScreen

MAX_ROWS = 500


class UnmappedScreen(WarRoomScreen):
    """Label sets of unmapped alerts with counts; each is a topology match rule to add."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.show_main", "Back"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shown: list[tuple[tuple[tuple[str, str], ...], int]] = []

    def compose(self) -> ComposeResult:
        yield Static(id="unmapped-title")
        yield DataTable[Text](id="unmapped", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#unmapped", DataTable)
        table.add_column(Text("count", justify="right"), key="count")
        table.add_column(Text("alerts", justify="right"), key="alerts")
        table.add_column(Text("last seen"), key="seen")
        table.add_column(Text("labels"), key="labels")
        table.add_column(Text("last summary"), key="summary")
        table.focus()

    def action_cursor_down(self) -> None:
        self.query_one("#unmapped", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#unmapped", DataTable).action_cursor_up()

    def show(self, frame: Frame) -> None:
        groups = frame.state.unmapped_groups()
        total = sum(g.count for g in groups)
        title = Text(f"unmapped alerts: {total} in {len(groups)} label sets", style="bold")
        title.append(
            "  — no component matched these labels: add a match rule or alias to the topology",
            style="dim",
        )
        self.query_one("#unmapped-title", Static).update(title)
        shown = [(g.labels, g.count) for g in groups[:MAX_ROWS]]
        if shown == self._shown:
            return
        self._shown = shown
        table = self.query_one("#unmapped", DataTable)
        cursor = table.cursor_row
        table.clear()
        for group in groups[:MAX_ROWS]:
            labels = Text()
            for index, (key, value) in enumerate(group.labels):
                if index:
                    labels.append(" ")
                labels.append(key, style="bold")
                labels.append("=")
                labels.append(value)
            seen = format_time(group.last_seen_ms)[:19] if group.last_seen_ms else "?"
            table.add_row(
                Text(f"{group.count:,}", justify="right"),
                Text(f"{len(group.fingerprints):,}", justify="right"),
                Text(seen.replace("T", " ")),
                labels,
                Text(group.last_summary, no_wrap=True, overflow="ellipsis"),
            )
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor, animate=False)
