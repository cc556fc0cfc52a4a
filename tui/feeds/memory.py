"""`MemoryFeed`: records pushed in by code. Tests and benchmarks drive the app with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from correlator.records import Record
from tui.feeds.base import ack_value, utc_now_rfc3339


class MemoryFeed:
    """An in-process queue of records; `acks` records every acknowledgement it was asked for."""

    def __init__(self, records: Iterable[Record] = (), *, connected: bool = True) -> None:
        self._queue: asyncio.Queue[Record | None] = asyncio.Queue()
        self._closed = False
        self.connected = connected
        self.description = "memory"
        self.link_error: str | None = None
        self.acks: list[tuple[str, str]] = []
        """(incident id, by) for each acknowledgement, in order."""
        self.ack_records: list[dict[str, object]] = []
        """The `incident.actions` values a real feed would have produced."""
        self.push_many(records)

    def push(self, record: Record) -> None:
        self._queue.put_nowait(record)

    def push_many(self, records: Iterable[Record]) -> None:
        for record in records:
            self._queue.put_nowait(record)

    def pending(self) -> int:
        """Records pushed but not yet taken by the consumer."""
        return self._queue.qsize()

    async def __aiter__(self) -> AsyncIterator[Record]:
        while not self._closed:
            record = await self._queue.get()
            if record is None:
                return
            yield record

    async def acknowledge(self, incident_id: str, by: str) -> None:
        self.acks.append((incident_id, by))
        self.ack_records.append(ack_value(incident_id, by, utc_now_rfc3339()))

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)
