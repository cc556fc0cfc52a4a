"""RFC 3339 timestamps <-> integer milliseconds since the Unix epoch (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

Millis = int
"""Event time: integer milliseconds since 1970-01-01T00:00:00Z."""

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimeFormatError(ValueError):
    """A timestamp that is not RFC 3339."""


def parse_time(text: str) -> Millis:
    """Parse an RFC 3339 timestamp (any number of fraction digits; no zone means UTC)."""
    m = _RFC3339.match(text.strip())
    if m is None:
        raise TimeFormatError(f"not an RFC 3339 timestamp: {text[:64]!r}")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError as exc:
        raise TimeFormatError(f"invalid timestamp {text[:64]!r}: {exc}") from None
    offset = 0
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
    millis = (frac or "0")[:3].ljust(3, "0")
    delta = dt.replace(tzinfo=UTC) - _EPOCH - timedelta(minutes=offset)
    return (delta.days * 86_400 + delta.seconds) * 1000 + int(millis)


@lru_cache(maxsize=65_536)
def format_time(ms: Millis) -> str:
    """Format as RFC 3339 UTC with a `Z`; milliseconds only when non-zero.

    Cached: snapshots repeat the same few timestamps (opened_at, alert starts) many times."""
    dt = _EPOCH + timedelta(milliseconds=ms)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ms % 1000
    return f"{base}.{frac:03d}Z" if frac else f"{base}Z"


SECOND: Millis = 1000
MINUTE: Millis = 60 * SECOND
HOUR: Millis = 60 * MINUTE
