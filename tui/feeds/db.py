"""`DbFeed`: incident history from the store's database (not built yet)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from correlator.errors import CorrelatorError
from correlator.records import Record


class DbFeed:
    """Placeholder until the history store exists; constructing it says so in one line."""

    def __init__(self, url: str) -> None:
        raise CorrelatorError(
            f"warroom --db {url}: the history store is not yet available; "
            "use --broker for live incidents or --replay for a file"
        )

    connected = False
    description = "db"

    def __aiter__(self) -> AsyncIterator[Record]:  # pragma: no cover - never constructed
        raise CorrelatorError("the history store is not yet available")

    async def acknowledge(self, incident_id: str, by: str) -> None:  # pragma: no cover
        raise CorrelatorError("the history store is not yet available")

    async def close(self) -> None:  # pragma: no cover
        return None
