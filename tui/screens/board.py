"""`BoardScreen`: every business service as a status tile, worst first (from `service.impact`)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.widgets import Footer, Static

from tui.screens.base import Frame, WarRoomScreen
from tui.widgets.service_tile import ServiceTile
from tui.widgets.stale_banner import StaleBanner

TILE_WIDTH = 26


class BoardScreen(WarRoomScreen):
    """A status page for responders: which business services are down, partly down, degraded."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.show_main", "Back")]

    def __init__(self) -> None:
        super().__init__()
        self._order: list[str] = []
        self._tiles: list[ServiceTile] = []

    def compose(self) -> ComposeResult:
        yield Static(id="board-title")
        yield StaleBanner()
        with VerticalScroll(id="board-scroll"):
            yield Grid(id="board")
        yield Footer()

    def on_resize(self) -> None:
        self.query_one("#board", Grid).styles.grid_size_columns = max(
            1, self.size.width // TILE_WIDTH
        )

    def show(self, frame: Frame) -> None:
        services = frame.state.service_list()
        counts = {"down": 0, "partial": 0, "degraded": 0, "ok": 0}
        for service in services:
            state = str(service.get("state"))
            if state in counts:
                counts[state] += 1
        title = Text(f"business services ({len(services)})", style="bold")
        for state, style in (
            ("down", "bold red"),
            ("partial", "bold dark_orange"),
            ("degraded", "yellow"),
            ("ok", "green"),
        ):
            title.append(f"   {state} {counts[state]}", style=style if counts[state] else "dim")
        self.query_one("#board-title", Static).update(title)
        self.query_one(StaleBanner).reasons = tuple(frame.state.stale_reasons(frame.now_ms))

        grid = self.query_one("#board", Grid)
        order = [str(s.get("id")) for s in services]
        if order != self._order:
            grid.remove_children()
            self._tiles = [ServiceTile(service) for service in services]
            grid.mount_all(self._tiles)
            self._order = order
        else:
            for tile, service in zip(self._tiles, services, strict=True):
                if tile.service is not service:
                    tile.service = service
        if not services:
            self.query_one("#board-title", Static).update(
                Text("No business service impact received yet.", style="dim")
            )
