"""`run_sink` against the real Kafka broker: events on `<prefix>incident.events` → DB rows."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from sqlmodel import Session, func, select
from store_events import event, lifecycle, replayed

from correlator.broker import KafkaBroker, TopicSpec, ensure_topics
from correlator.store import IncidentEvent, get_incident, open_store, run_sink


@pytest.mark.kafka
async def test_sink_stores_events_from_kafka_and_commits_offsets(
    kafka_broker: KafkaBroker, db_url: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    topic = f"{prefix}incident.events"
    group = f"store-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_broker.connection, [TopicSpec(topic, partitions=3)])
    real = replayed("acme-shop-cart-shard-down.jsonl", "acme-shop.yaml")
    events = [*real, *lifecycle("inc-1")]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topic, orjson.dumps(e), key=e["incident"]["id"].encode())
        await producer.send_and_wait(topic, b"not an event", key=b"junk")
        await producer.send_and_wait(topic, orjson.dumps(events[0]), key=b"dup")  # redelivery
    finally:
        await producer.stop()

    async def run_until_stored(expected: int) -> tuple[int, int, int]:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_sink(kafka_broker.connection, prefix, db_url, group=group, stop_event=stop)
        )
        engine = open_store(db_url)
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline and not task.done():
                with Session(engine) as session:
                    count = session.exec(select(func.count()).select_from(IncidentEvent)).one()
                if count >= expected:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # let the sink commit its offsets
        finally:
            stop.set()
            counts = await asyncio.wait_for(task, timeout=30)
            engine.dispose()
        return counts.stored, counts.duplicates, counts.invalid

    assert await run_until_stored(len(events)) == (len(events), 1, 1)

    engine = open_store(db_url)
    with Session(engine) as session:
        found = get_incident(session, "inc-1")
        real_found = get_incident(session, real[0]["incident"]["id"])
    engine.dispose()
    assert found is not None and real_found is not None
    assert [e.seq for e in found[1]] == [1, 2, 3]
    assert (found[0].status, found[0].last_seq) == ("resolved", 3)
    assert [e.type for e in real_found[1]] == [e["type"] for e in real]

    # A second run of the same group resumes after the committed offsets: only the new event
    # is read (a re-read would show up as duplicates).
    reopened = event("inc-1", 4, "incident.reopened", "2025-03-14T10:08:00Z", customers=500)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, orjson.dumps(reopened), key=b"inc-1")
    finally:
        await producer.stop()
    assert await run_until_stored(len(events) + 1) == (1, 0, 0)
