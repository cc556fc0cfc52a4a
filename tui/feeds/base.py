"""The `IncidentFeed` protocol every feed implements."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from correlator.core.timefmt import format_time
from correlator.records import Record


@runtime_checkable
class IncidentFeed(Protocol):
    """A source of war-room records and a sink for acknowledgements.

    Iterating yields records (logical topic names) until the feed ends or is closed; a live feed
    never ends on its own and reconnects by itself, reporting the link through `connected`.
    """

    @property
    def connected(self) -> bool:
        """True while records can flow (a live link, or a replay that has not finished)."""
        ...

    @property
    def description(self) -> str:
        """A short human name for the header: `kafka localhost:9092`, `replay ×10`."""
        ...

    @property
    def link_error(self) -> str | None:
        """Why records are not flowing, in one line for the header (`no broker at
        localhost:9092 — retrying`); None while the link is up or has not failed yet."""
        ...

    def __aiter__(self) -> AsyncIterator[Record]: ...

    async def acknowledge(self, incident_id: str, by: str) -> None:
        """Send an acknowledgement; raise `CorrelatorError` when it cannot be delivered."""
        ...

    async def close(self) -> None:
        """Stop iterating and release connections; safe to call twice."""
        ...


def utc_now_rfc3339() -> str:
    """Wall-clock time as RFC 3339 UTC (only for the `at` of an acknowledgement)."""
    return format_time(int(time.time() * 1000))


def ack_value(incident_id: str, by: str, at: str) -> dict[str, object]:
    """The `incident.actions` record value for an acknowledgement (DESIGN §6)."""
    return {"schema": 1, "type": "ack", "incident": incident_id, "by": by, "at": at}
