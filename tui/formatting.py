"""How durations and counts read in the war room."""

from __future__ import annotations


def format_duration(ms: int) -> str:
    """A compact age: 45s, 12m, 3h05m, 2d04h."""
    seconds = max(0, ms // 1000)
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_count(n: int) -> str:
    """Customers with thousands separators: 1,234,567."""
    return f"{n:,}"
