"""`ReplayFeed`: recorded `(event_time_ms, Record)` pairs, paced by event time.

A replay has no pipeline behind it, so nothing republishes `impact.summary` while the recording
is quiet — yet the live impact stage does, on its idle clock ticks, and the war room's STALE
silence rule counts on it. The feed therefore plays the impact stage's ticks itself: whenever its
own clock (the event time of the playback position) has moved `tick_ms` past the latest summary,
it republishes that summary with the new `as_of`, exactly as the stage's `on_tick` does. A quiet
stretch of a recording is then what it was live — quiet, not stale.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, Final

from correlator.core.timefmt import SECOND, format_time
from correlator.records import SUMMARY_KEY, TOPIC_IMPACT_SUMMARY, Record
from tui.feeds.base import ack_value, utc_now_rfc3339

TICK_MS: Final = 5 * SECOND
"""Event time between republished summaries in a quiet stretch (the worker's tick interval)."""


class ReplayFeed:
    """Plays records back at `speed` × real time (speed 0: as fast as the app takes them).

    Acknowledgements go nowhere (there is no pipeline behind a replay); they are kept in `acks`.
    """

    def __init__(
        self, records: Iterable[tuple[int, Record]], speed: float = 1.0, *, tick_ms: int = TICK_MS
    ) -> None:
        if speed < 0:
            raise ValueError("replay speed must be >= 0")
        if tick_ms <= 0:
            raise ValueError("tick_ms must be > 0")
        self._records = records
        self._speed = speed
        self._tick_ms = tick_ms
        self._closed = False
        self._finished = False
        self._start: tuple[float, int] | None = None
        """(monotonic seconds, event ms) when playback started, for pacing."""
        self._summary: dict[str, Any] | None = None
        """The latest summary played (what a tick republishes)."""
        self._summary_key = SUMMARY_KEY
        self._summary_ms = 0
        """The feed's clock (event time) when that summary was played or last republished."""
        self.acks: list[tuple[str, str]] = []
        self.ack_records: list[dict[str, object]] = []
        self.description = "replay" if speed == 0 else f"replay ×{speed:g}"
        self.link_error: str | None = None

    @property
    def connected(self) -> bool:
        return not self._finished and not self._closed

    async def __aiter__(self) -> AsyncIterator[Record]:
        try:
            for event_ms, record in self._records:
                if self._closed:
                    return
                async for tick in self._ticks_until(event_ms):
                    yield tick
                await self._wait_until(event_ms)
                if self._closed:
                    return
                if record.topic == TOPIC_IMPACT_SUMMARY and record.value is not None:
                    self._summary, self._summary_key = record.value, record.key
                    self._summary_ms = event_ms
                yield record
        finally:
            self._finished = True

    async def _ticks_until(self, event_ms: int) -> AsyncIterator[Record]:
        """The impact stage's idle ticks between the playback position and `event_ms`.

        Paced, one every `tick_ms` of event time, each when it is due; unpaced (speed 0), only
        the last one: nobody can see the intermediate ones, and a long recording stays cheap.
        """
        if self._summary is None:
            return
        due = self._summary_ms + self._tick_ms
        if self._speed == 0 and due <= event_ms:
            due += (event_ms - due) // self._tick_ms * self._tick_ms
        while due <= event_ms and not self._closed:
            await self._wait_until(due)
            if self._closed:
                return
            self._summary = {**self._summary, "as_of": format_time(due)}
            self._summary_ms = due
            yield Record(TOPIC_IMPACT_SUMMARY, self._summary_key, self._summary)
            due += self._tick_ms

    async def _wait_until(self, event_ms: int) -> None:
        if self._speed <= 0:
            return
        if self._start is None:
            self._start = (time.monotonic(), event_ms)
        start_wall, start_event = self._start
        delay = start_wall + (event_ms - start_event) / 1000 / self._speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def acknowledge(self, incident_id: str, by: str) -> None:
        self.acks.append((incident_id, by))
        self.ack_records.append(ack_value(incident_id, by, utc_now_rfc3339()))

    async def close(self) -> None:
        self._closed = True
