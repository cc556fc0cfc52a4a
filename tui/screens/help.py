"""`HelpScreen`: every key the war room answers to."""

from __future__ import annotations

from typing import ClassVar, Final

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: Final[tuple[tuple[str, str, str], ...]] = (
    ("↑ ↓  j k", "incidents, unmapped", "move the selection"),
    ("enter", "incidents", "focus the detail pane (scroll it with ↑ ↓)"),
    ("/", "incidents", "filter by id, title, service or component (enter: keep, esc: clear)"),
    ("s", "incidents", "next sort: severity, customers, newest, updated"),
    ("a", "incidents", "acknowledge the selected incident"),
    ("b", "anywhere", "business-services board (again: back)"),
    ("u", "anywhere", "unmapped alerts: topology gaps (again: back)"),
    ("t", "anywhere", "toggle light / dark theme"),
    ("?", "anywhere", "this help"),
    ("escape", "anywhere", "back: close help, filter or board; leave the detail pane"),
    ("q", "anywhere", "quit"),
)
"""Every key, for the help screen and the README's war room section (keep them in step)."""


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; any of escape, ? or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close"),
        Binding("q", "dismiss", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 92;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen Static {
        width: 1fr;
        height: auto;
    }
    """

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column(style="dim")
        table.add_column()
        for key, where, what in KEYS:
            table.add_row(Text(key), Text(where), Text(what))
        with VerticalScroll() as scroll:
            scroll.border_title = "war room keys"
            yield Static(table)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
