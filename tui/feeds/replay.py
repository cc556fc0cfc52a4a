"""`ReplayFeed`: recorded `(event_time_ms, Record)` pairs, paced by event time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable

from correlator.records import Record
from tui.feeds.base import ack_value, utc_now_rfc3339


class ReplayFeed:
    """Plays records back at `speed` × real time (speed 0: as fast as the app takes them).

    Acknowledgements go nowhere (there is no pipeline behind a replay); they are kept in `acks`.
    """

    def __init__(self, records: Iterable[tuple[int, Record]], speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("replay speed must be >= 0")
        self._records = records
        self._speed = speed
        self._closed = False
        self._finished = False
        self.acks: list[tuple[str, str]] = []
        self.ack_records: list[dict[str, object]] = []
        self.description = "replay" if speed == 0 else f"replay ×{speed:g}"

    @property
    def connected(self) -> bool:
        return not self._finished and not self._closed

    async def __aiter__(self) -> AsyncIterator[Record]:
        start_wall: float | None = None
        start_event = 0
        try:
            for event_ms, record in self._records:
                if self._closed:
                    return
                if self._speed > 0:
                    if start_wall is None:
                        start_wall, start_event = time.monotonic(), event_ms
                    due = start_wall + (event_ms - start_event) / 1000 / self._speed
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                yield record
        finally:
            self._finished = True

    async def acknowledge(self, incident_id: str, by: str) -> None:
        self.acks.append((incident_id, by))
        self.ack_records.append(ack_value(incident_id, by, utc_now_rfc3339()))

    async def close(self) -> None:
        self._closed = True
