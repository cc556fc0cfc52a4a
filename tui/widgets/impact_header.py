"""`ImpactHeader`: the headline — customers affected now, open incidents by severity, the trend."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Digits, Sparkline, Static

from tui.widgets.connection_indicator import ConnectionIndicator, LinkState
from tui.widgets.styles import SEVERITY_STYLE


class ImpactHeader(Horizontal):
    """Customers affected in large digits, severity counts, a 30-minute sparkline, the link."""

    DEFAULT_CSS = """
    ImpactHeader {
        height: 3;
        width: 1fr;
    }
    ImpactHeader #customers {
        width: auto;
        min-width: 5;
        padding: 0 1;
        color: $error;
        text-style: bold;
    }
    ImpactHeader #customers.-none {
        color: $success;
    }
    ImpactHeader #figures {
        width: 1fr;
        height: 3;
    }
    ImpactHeader #headline, ImpactHeader #severities {
        height: 1;
        width: 1fr;
    }
    ImpactHeader #trend {
        height: 1;
    }
    ImpactHeader #trend Sparkline {
        width: 1fr;
        max-width: 60;
        height: 1;
    }
    ImpactHeader #trend-label {
        width: auto;
        color: $text-muted;
    }
    """

    customers_affected: reactive[int | None] = reactive(None)
    """Customers affected right now across all incidents (None before the first summary)."""
    customers_degraded: reactive[int] = reactive(0)
    """Customers not cut off but on a degraded service."""
    customers_total: reactive[int] = reactive(0)
    """All customers in the topology."""
    estimated: reactive[bool] = reactive(False)
    """The figures were sampled rather than enumerated."""
    severity_counts: reactive[Mapping[str, int]] = reactive(dict)
    """Open incidents per severity."""
    history: reactive[list[float]] = reactive(list)
    """Customers affected over the last 30 minutes, one value per minute."""
    link: reactive[LinkState] = reactive("connecting")
    """The feed's link state."""
    feed_name: reactive[str] = reactive("")
    """The feed's description."""
    link_error: reactive[str | None] = reactive(None)
    """Why the feed is not live, when it knows."""

    def watch_customers_affected(self, value: int | None) -> None:
        if not self.is_mounted:
            return
        digits = self.query_one("#customers", Digits)
        digits.update("-" if value is None else f"{value:,}".replace(",", " "))
        digits.set_class(not value, "-none")

    def watch_history(self, history: list[float]) -> None:
        if self.is_mounted:
            self.query_one(Sparkline).data = history

    def watch_link(self, link: LinkState) -> None:
        if self.is_mounted:
            self.query_one(ConnectionIndicator).link = link

    def watch_feed_name(self, name: str) -> None:
        if self.is_mounted:
            self.query_one(ConnectionIndicator).feed_name = name

    def watch_link_error(self, error: str | None) -> None:
        if self.is_mounted:
            self.query_one(ConnectionIndicator).link_error = error

    def _watch_figures(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#headline", Static).update(self._headline())
        self.query_one("#severities", Static).update(self._severities())

    watch_customers_degraded = _watch_figures
    watch_customers_total = _watch_figures
    watch_estimated = _watch_figures
    watch_severity_counts = _watch_figures

    def compose(self) -> ComposeResult:
        yield Digits("-", id="customers")
        with Vertical(id="figures"):
            yield Static(id="headline")
            yield Static(id="severities")
            with Horizontal(id="trend"):
                yield Static("30 min ", id="trend-label")
                yield Sparkline([], summary_function=max)
        yield ConnectionIndicator()

    def on_mount(self) -> None:
        self.watch_customers_affected(self.customers_affected)
        self.watch_history(self.history)
        self.watch_link(self.link)
        self.watch_feed_name(self.feed_name)
        self.watch_link_error(self.link_error)
        self._watch_figures()

    def _headline(self) -> Text:
        text = Text()
        affected = self.customers_affected
        text.append("customers affected", style="bold")
        if affected is not None and self.customers_total:
            share = 100 * affected / self.customers_total
            text.append(f" ({share:.1f}% of {self.customers_total:,})")
        if self.customers_degraded:
            text.append(f" · {self.customers_degraded:,} degraded", style="yellow")
        if self.estimated:
            text.append(" · estimated", style="italic")
        return text

    def _severities(self) -> Text:
        text = Text("open ")
        for sev, count in self.severity_counts.items():
            style = SEVERITY_STYLE.get(sev, "") if count else "dim"
            text.append(f" {sev} {count} ", style=style)
            text.append(" ")
        return text
