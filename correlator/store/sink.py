"""The store sink: `<prefix>incident.events` → the history tables, with aiokafka.

At-least-once: offsets are committed only after the database transaction that recorded their
events has committed, so a crash in between redelivers events that `record_event` then drops
as duplicates. The database work runs in a thread so the worker's event loop never blocks on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session

from correlator.errors import BrokerError
from correlator.kafka_connection import KafkaConnection, failure_reason
from correlator.records import TOPIC_INCIDENT_EVENTS
from correlator.store.history import InvalidEventError, display_url, open_store, record_event

log = logging.getLogger("correlator.store")

_MAX_BACKOFF = 30.0


@dataclass(slots=True)
class SinkCounts:
    """What one batch did: events recorded, duplicates dropped, records that were not events."""

    stored: int = 0
    duplicates: int = 0
    invalid: int = 0

    def add(self, other: SinkCounts) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.invalid += other.invalid


def _record_value(session: Session, value: bytes | None, counts: SinkCounts) -> None:
    if value is None:  # a tombstone: nothing to record
        return
    try:
        recorded = record_event(session, orjson.loads(value))
    except (orjson.JSONDecodeError, InvalidEventError) as exc:
        log.warning("store: skipping a record that is not an incident event: %s", exc)
        counts.invalid += 1
        return
    if recorded:
        counts.stored += 1
    else:
        counts.duplicates += 1


def store_values(engine: Engine, values: Sequence[bytes | None]) -> SinkCounts:
    """Record raw `incident.events` values in one transaction (per value if another writer
    raced us to some of them). Raises `SQLAlchemyError` when the database is unusable."""
    counts = SinkCounts()
    with Session(engine) as session:
        try:
            for value in values:
                _record_value(session, value, counts)
            session.commit()
            return counts
        except IntegrityError:
            session.rollback()
    counts = SinkCounts()
    for value in values:
        one = SinkCounts()
        with Session(engine) as session:
            try:
                _record_value(session, value, one)
                session.commit()
            except IntegrityError:
                session.rollback()
                one = SinkCounts(duplicates=1)
        counts.add(one)
    return counts


async def _store_until_done(
    engine: Engine, values: Sequence[bytes | None], stop_event: asyncio.Event
) -> SinkCounts | None:
    """`store_values`, retried with backoff while the database is unavailable; None if
    asked to stop first (the batch is then left uncommitted, to be redelivered)."""
    delay = 1.0
    while True:
        try:
            return await asyncio.to_thread(store_values, engine, values)
        except SQLAlchemyError as exc:
            log.warning("store: database error, retrying in %.0fs: %s", delay, exc)
        try:
            await asyncio.wait_for(stop_event.wait(), timeout=delay)
            return None
        except TimeoutError:
            delay = min(delay * 2, _MAX_BACKOFF)


async def run_sink(
    kafka: KafkaConnection,
    prefix: str,
    url: str,
    *,
    group: str = "correlator-store",
    stop_event: asyncio.Event,
    poll_ms: int = 500,
) -> SinkCounts:
    """Consume `<prefix>incident.events` into the history database at `url` until
    `stop_event` is set; returns what was recorded.

    Raises `StoreError` when the database cannot be opened and `BrokerError` when the broker
    cannot be reached at start. Later database outages are waited out, never fatal.
    """
    from aiokafka.errors import CommitFailedError, KafkaError

    engine = await asyncio.to_thread(open_store, url)
    topic = f"{prefix}{TOPIC_INCIDENT_EVENTS}"
    consumer = kafka.consumer(
        topic,
        group_id=group,
        client_id="correlator-store",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    total = SinkCounts()
    try:
        try:
            await consumer.start()
        except KafkaError as exc:
            reason = await failure_reason(kafka, exc)
            raise BrokerError(
                f"store sink cannot reach the broker at {kafka.describe()}: {reason}"
            ) from None
        log.info("store: recording %s into %s", topic, display_url(url))
        while not stop_event.is_set():
            batches = await consumer.getmany(timeout_ms=poll_ms, max_records=500)
            if not batches:
                continue
            # Events of one incident share a key, hence a partition: its order is kept.
            values = [m.value for tp in sorted(batches) for m in batches[tp]]
            offsets = {tp: msgs[-1].offset + 1 for tp, msgs in batches.items() if msgs}
            counts = await _store_until_done(engine, values, stop_event)
            if counts is None:
                break
            total.add(counts)
            try:
                await consumer.commit(offsets)
            except (CommitFailedError, KafkaError) as exc:
                # A rebalance took the partitions: their events come again, as duplicates.
                log.warning("store: offset commit failed (events will be redelivered): %s", exc)
    finally:
        await consumer.stop()
        engine.dispose()
    return total
