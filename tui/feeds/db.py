"""`DbFeed`: the war room on the incident history (the store's database), read-only.

It starts with the latest snapshot of every open incident, every recorded event of those incidents
(and of the incidents merged into them: their timelines) and the most recent events, then polls
for new events every couple of seconds, so a war room on the database follows a running worker's
sink. Every database call runs in a thread, so a slow or locked database never freezes the screen.

The database holds no `impact.summary`, so after every poll the feed synthesizes one from the open
incidents: its `as_of` is the newest event recorded and its `ingest_lag_seconds` is that event's
age. A history that has not moved for 30 s therefore shows STALE — the database cannot vouch for
anything newer, and a dead sink must never look like an all-clear.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import func, or_
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from correlator.core.timefmt import format_time
from correlator.errors import CorrelatorError
from correlator.records import (
    SCHEMA,
    SUMMARY_KEY,
    TOPIC_IMPACT_SUMMARY,
    TOPIC_INCIDENT_EVENTS,
    TOPIC_INCIDENTS,
    Record,
)
from correlator.store import Incident, IncidentEvent, list_incidents, open_store
from correlator.store.history import display_url, normalise_url
from correlator.store.models import as_utc

log = logging.getLogger(__name__)

READ_ONLY_ACK: Final = (
    "acknowledging needs a live feed (--broker); the history database is read-only"
)
MAX_OPEN: Final = 10_000
"""Open incidents loaded at start (far more than a war room can show)."""
MAX_HISTORY: Final = 20_000
"""Events of the open incidents loaded at start for their timelines (the newest, if more)."""
CHUNK: Final = 500
"""Incident ids per `IN (…)` query (well below every database's parameter limit)."""
BATCH: Final = 1_000
"""Events read per poll; a full batch polls again at once."""
GAP_SECONDS: Final = 60.0
"""How long a missing event id is looked for again: with several writers (PostgreSQL) a row with
a lower id can commit after a higher one, and must not be skipped."""
MAX_GAPS: Final = 10_000


def _ms(value: datetime | None) -> int | None:
    utc = as_utc(value)
    return None if utc is None else int(utc.timestamp() * 1000)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _event_record(row: IncidentEvent) -> Record:
    at = _ms(row.at)
    value = {
        "schema": SCHEMA,
        "type": row.type,
        "seq": row.seq,
        "at": None if at is None else format_time(at),
        "incident": row.snapshot,
    }
    return Record(TOPIC_INCIDENT_EVENTS, row.incident_id, value)


def history_summary(
    open_incidents: Iterable[Mapping[str, Any]], newest_ms: int | None, now_ms: int
) -> dict[str, Any]:
    """An `impact.summary` value synthesized from the open incidents' latest snapshots.

    Customers are added up per segment and capped at the segment's size. Incidents that share a
    segment may count the same customers twice, so the figure is then an upper bound and marked
    `estimated`. `customers_total` stays 0: the history does not know the whole topology.
    """
    snapshots = list(open_incidents)
    segments: dict[str, dict[str, Any]] = {}
    loose_affected = loose_degraded = 0
    estimated = any(bool(s.get("estimated")) for s in snapshots)
    for snapshot in snapshots:
        entries = [e for e in snapshot.get("segments") or () if isinstance(e, dict)]
        if not entries:
            loose_affected += _int(snapshot.get("customers_affected"))
            loose_degraded += _int(snapshot.get("customers_degraded"))
            continue
        for entry in entries:
            key = str(entry.get("id"))
            seg = segments.setdefault(
                key,
                {
                    "id": entry.get("id"),
                    "name": entry.get("name"),
                    "customers": _int(entry.get("customers")),
                    "affected": 0,
                    "degraded": 0,
                    "incidents": 0,
                },
            )
            affected, degraded = _int(entry.get("affected")), _int(entry.get("degraded"))
            if affected or degraded:
                seg["incidents"] += 1
            seg["affected"] += affected
            seg["degraded"] += degraded
    if loose_affected and len(snapshots) > 1:
        estimated = True
    out_segments = []
    for seg in segments.values():
        if seg.pop("incidents") > 1:
            estimated = True
        size = seg["customers"]
        if size:
            seg["affected"] = min(seg["affected"], size)
            seg["degraded"] = min(seg["degraded"], size - seg["affected"])
        out_segments.append(seg)
    value: dict[str, Any] = {
        "schema": SCHEMA,
        "as_of": None if newest_ms is None else format_time(newest_ms),
        "customers_total": 0,
        "customers_affected": loose_affected + sum(s["affected"] for s in out_segments),
        "customers_degraded": loose_degraded + sum(s["degraded"] for s in out_segments),
        "estimated": estimated,
        "segments": out_segments,
        "stale_sources": [],
        "open_incidents": len(snapshots),
        "ingest_lag_seconds": None,
        "source": "history",
    }
    if newest_ms is None:
        value["stale_sources"] = ["history database (no incident events recorded)"]
    else:
        value["ingest_lag_seconds"] = round(max(0, now_ms - newest_ms) / 1000, 3)
    return value


class DbFeed:
    """Incident history from the store at `url`, followed by polling; never writes.

    Opening checks the database at once: a missing SQLite file or an unreachable server is a
    one-line `CorrelatorError`. Later failures set `connected` to False and are retried with
    exponential backoff (`poll_interval` doubling to `backoff_max`).
    """

    def __init__(
        self,
        url: str,
        *,
        poll_interval: float = 2.0,
        backoff_max: float = 30.0,
        recent_events: int = 200,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.description = f"history {display_url(url)} (read-only)"
        self.last_error: str | None = None
        self._engine = open_store(url, create=False)
        parsed = make_url(normalise_url(url))  # valid: open_store has parsed it
        database = parsed.database if parsed.get_backend_name() == "sqlite" else None
        self._sqlite_file = Path(database) if database and database != ":memory:" else None
        """Checked before every read: connecting to a vanished file would create an empty one."""
        self._poll_interval = poll_interval
        self._backoff_max = backoff_max
        self._recent = recent_events
        self._clock = clock
        self._connected = False
        self._closed = False
        self._stop = asyncio.Event()
        self._stop_waiter: asyncio.Task[Literal[True]] | None = None
        self._high: int | None = None
        """The highest event row id read so far (None before the first load)."""
        self._gaps: dict[int, float] = {}
        """Event ids below `_high` not seen yet, with the monotonic time to stop looking."""
        self._open: dict[str, dict[str, Any]] = {}
        """Latest snapshot of every open incident, for the synthesized summary."""
        self._seqs: dict[str, int] = {}
        """Newest `seq` seen per incident (so a late, older event cannot reopen one)."""
        self._newest_ms: int | None = None

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def link_error(self) -> str | None:
        if self._connected or self.last_error is None:
            return None
        return f"history database unreachable ({self.last_error}) — retrying"

    async def __aiter__(self) -> AsyncIterator[Record]:
        backoff = self._poll_interval
        while not self._closed:
            try:
                records, more = await asyncio.to_thread(self._read)
            except (SQLAlchemyError, OSError) as exc:
                self._connected = False
                self.last_error = f"{type(exc).__name__}: {_first_line(exc)}"
                log.warning("war room lost the history database %s: %s", self.description, exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._backoff_max)
                continue
            self._connected = True
            self.last_error = None
            backoff = self._poll_interval
            for record in records:
                yield record
            now_ms = int(self._clock() * 1000)
            summary = history_summary(self._open.values(), self._newest_ms, now_ms)
            yield Record(TOPIC_IMPACT_SUMMARY, SUMMARY_KEY, summary)
            if not more:
                await self._sleep(self._poll_interval)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, or less if the feed is closed. (Not `wait_for`: on Python 3.11 it can swallow
        the worker's cancellation when the stop event fires at the same moment.)"""
        waiter = self._stop_waiter
        if waiter is None:
            waiter = self._stop_waiter = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({waiter}, timeout=seconds)

    def _read(self) -> tuple[list[Record], bool]:
        """One load or poll (in a worker thread): the records to yield and whether more wait."""
        if self._sqlite_file is not None and not self._sqlite_file.exists():
            raise FileNotFoundError(f"{self._sqlite_file}: the database file is gone")
        with Session(self._engine) as session:
            if self._high is None:
                return self._load(session), False
            return self._poll(session)

    def _load(self, session: Session) -> list[Record]:
        # The high-water mark first: anything committed after it is found by the next poll
        # (and a snapshot read twice is dropped by the war room's `seq` check).
        high = session.exec(select(func.max(IncidentEvent.id))).one() or 0
        newest = session.exec(
            select(IncidentEvent.at).order_by(col(IncidentEvent.at).desc()).limit(1)
        ).first()
        rows = session.exec(
            select(IncidentEvent)
            .where(col(IncidentEvent.id) <= high)
            .order_by(col(IncidentEvent.id).desc())
            .limit(self._recent)
        ).all()
        incidents = list_incidents(session, status="open", limit=MAX_OPEN)
        by_id = {row.id: row for row in rows}
        for row in self._timeline_rows(session, [i.id for i in incidents], high):
            by_id.setdefault(row.id, row)
        records = [_event_record(by_id[i]) for i in sorted(by_id, key=lambda i: i or 0)]
        for incident in incidents:
            self._note(incident.snapshot)
            records.append(Record(TOPIC_INCIDENTS, incident.id, incident.snapshot))
        self._high = high
        self._newest_ms = _ms(newest)
        return records

    def _timeline_rows(
        self, session: Session, open_ids: Sequence[str], high: int
    ) -> list[IncidentEvent]:
        """Every event (up to `MAX_HISTORY`, the newest) of the open incidents and of the
        incidents merged into them."""
        ids = list(open_ids)
        for start in range(0, len(open_ids), CHUNK):
            chunk = open_ids[start : start + CHUNK]
            ids.extend(
                session.exec(select(Incident.id).where(col(Incident.merged_into).in_(chunk))).all()
            )
        rows: list[IncidentEvent] = []
        for start in range(0, len(ids), CHUNK):
            rows.extend(
                session.exec(
                    select(IncidentEvent)
                    .where(col(IncidentEvent.incident_id).in_(ids[start : start + CHUNK]))
                    .where(col(IncidentEvent.id) <= high)
                    .order_by(col(IncidentEvent.id).desc())
                    .limit(MAX_HISTORY)
                ).all()
            )
        rows.sort(key=lambda row: row.id or 0, reverse=True)
        return rows[:MAX_HISTORY]

    def _poll(self, session: Session) -> tuple[list[Record], bool]:
        assert self._high is not None
        now = time.monotonic()
        self._gaps = {i: until for i, until in self._gaps.items() if until > now}
        newer = col(IncidentEvent.id) > self._high
        where = or_(newer, col(IncidentEvent.id).in_(list(self._gaps))) if self._gaps else newer
        rows: Sequence[IncidentEvent] = session.exec(
            select(IncidentEvent).where(where).order_by(col(IncidentEvent.id)).limit(BATCH)
        ).all()
        records: list[Record] = []
        for row in rows:
            row_id = row.id or 0
            if row_id > self._high:
                for missing in range(self._high + 1, min(row_id, self._high + 1 + MAX_GAPS)):
                    self._gaps[missing] = now + GAP_SECONDS
                self._high = row_id
            self._gaps.pop(row_id, None)
            self._note(row.snapshot)
            at = _ms(row.at)
            if at is not None and (self._newest_ms is None or at > self._newest_ms):
                self._newest_ms = at
            records.append(_event_record(row))
        while len(self._gaps) > MAX_GAPS:
            del self._gaps[next(iter(self._gaps))]
        return records, len(rows) == BATCH

    def _note(self, snapshot: Mapping[str, Any]) -> None:
        """Keep the open set current (latest `seq` wins) for the synthesized summary."""
        incident_id, seq = snapshot.get("id"), snapshot.get("seq")
        if not isinstance(incident_id, str) or not isinstance(seq, int):
            return
        if self._seqs.get(incident_id, -1) >= seq:
            return
        self._seqs[incident_id] = seq
        if snapshot.get("status", "open") == "open":
            self._open[incident_id] = dict(snapshot)
        else:
            self._open.pop(incident_id, None)

    async def acknowledge(self, incident_id: str, by: str) -> None:
        raise CorrelatorError(READ_ONLY_ACK)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._stop.set()
            if self._stop_waiter is not None and not self._stop_waiter.done():
                self._stop_waiter.cancel()
            self._engine.dispose()
