"""`ServiceTile`: one business service on the board, like a status-page tile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.formatting import format_count
from tui.widgets.styles import impact_bar, service_label, state_text

STATES = ("down", "partial", "degraded", "ok")


class ServiceTile(Static):
    """Name, tier, state, impact bar, customers affected and incidents of one service."""

    DEFAULT_CSS = """
    ServiceTile {
        height: 6;
        border: round $success;
        padding: 0 1;
    }
    ServiceTile.-down { border: heavy $error; }
    ServiceTile.-partial { border: heavy $warning; }
    ServiceTile.-degraded { border: round $warning; }
    """

    service: reactive[Mapping[str, Any]] = reactive(dict, always_update=True)
    """The latest `service.impact` value for this service."""

    def __init__(self, service: Mapping[str, Any]) -> None:
        super().__init__()
        self.set_reactive(ServiceTile.service, service)

    def on_mount(self) -> None:
        self.watch_service(self.service)

    def watch_service(self, service: Mapping[str, Any]) -> None:
        state = str(service.get("state", ""))
        for name in STATES:
            self.set_class(state == name, f"-{name}")
        self.border_title = service_label(service)
        tier = service.get("tier")
        self.border_subtitle = f"tier {tier}" if tier is not None else ""
        self.update(tile_text(service))


def tile_text(service: Mapping[str, Any]) -> Text:
    text = state_text(service.get("state"))
    impact = service.get("impact")
    if isinstance(impact, int | float):
        text.append(f"  {impact:.1%}")
    text.append("\n")
    text.append_text(impact_bar(impact, width=16))
    text.append("\n")
    affected, degraded = service.get("customers_affected"), service.get("customers_degraded")
    text.append(f"{format_count(affected) if isinstance(affected, int) else '?'} affected")
    if isinstance(degraded, int) and degraded:
        text.append(f" · {format_count(degraded)} degraded", style="yellow")
    incidents = [str(i) for i in service.get("incidents") or ()]
    text.append("\n")
    text.append(", ".join(incidents) if incidents else "no incident", style="dim")
    return text
