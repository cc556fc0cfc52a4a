"""`HelpScreen`: every key the war room answers to."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class IngressHint:
    """Where a responder can send alerts of their own (shown on the help screen when known)."""

    url: str
    """The worker's webhook ingress, e.g. `http://127.0.0.1:6066/ingest`."""
    token_env: str | None = None
    """The environment variable holding the bearer token, when the ingress requires one (the
    token itself is never shown)."""


def ingress_text(hint: IngressHint) -> Text:
    """The `curl` line that sends an alert file to the ingress."""
    text = Text("send your own alerts", style="bold")
    text.append("\n  curl -X POST ")
    text.append(hint.url, style="underline")
    if hint.token_env:
        text.append(f' -H "Authorization: Bearer ${hint.token_env}"')
    text.append(" -H 'Content-Type: application/json' -d @alert.json")
    if hint.token_env:
        text.append(
            f"\n  (the ingress requires a bearer token: ${hint.token_env} holds it)", style="dim"
        )
    else:
        text.append("\n  (no token required)", style="dim")
    return text


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
    HelpScreen #ingress {
        margin-top: 1;
    }
    """

    def __init__(self, *, ingress: IngressHint | None = None) -> None:
        super().__init__()
        self.ingress = ingress

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
            if self.ingress is not None:
                yield Static(ingress_text(self.ingress), id="ingress")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
