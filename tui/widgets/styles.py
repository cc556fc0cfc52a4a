"""Rich styles and small `Text` builders shared by the widgets.

Everything here returns `rich.text.Text` built from plain strings, never markup: alert-derived
text (titles, summaries, labels) must show its characters literally, `[bold]` and all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from rich.text import Text

SEVERITY_STYLE: Final[Mapping[str, str]] = {
    "SEV1": "bold white on red",
    "SEV2": "bold red",
    "SEV3": "bold dark_orange",
    "SEV4": "bold yellow",
}
STATE_STYLE: Final[Mapping[str, str]] = {
    "down": "bold red",
    "partial": "bold dark_orange",
    "degraded": "yellow",
    "ok": "green",
}
ALERT_STYLE: Final[Mapping[str, str]] = {
    "critical": "bold red",
    "warning": "yellow",
    "info": "dim",
}
FRESH_STYLE: Final = "bold reverse"


def severity_text(severity: object) -> Text:
    sev = str(severity) if severity is not None else "?"
    return Text(sev, style=SEVERITY_STYLE.get(sev, ""))


def state_text(state: object) -> Text:
    name = str(state) if state is not None else "?"
    return Text(name, style=STATE_STYLE.get(name, ""))


def impact_bar(impact: object, width: int = 10) -> Text:
    """A horizontal bar for an impact in [0, 1], with eighth-cell resolution."""
    value = float(impact) if isinstance(impact, int | float) else 0.0
    value = min(max(value, 0.0), 1.0)
    eighths = round(value * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    style = "red" if value >= 1 else "dark_orange" if value > 0 else "green"
    text = Text(bar.ljust(width, "·"), style=style)
    return text


def literal(value: object) -> Text:
    """Any value as plain text (no markup, no emoji codes, no highlighting)."""
    return Text("" if value is None else str(value))


def service_label(service: Mapping[str, Any]) -> str:
    name = service.get("name")
    return str(name) if name else str(service.get("id", "?"))
