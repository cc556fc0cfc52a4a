"""The worker on a secured cluster: the Faust app, the ingest service and the history sink
(its own aiokafka clients) all run over the session broker's SASL_PLAINTEXT listener, from one
`KafkaConnection`."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from worker_harness import (
    ACME_TOPOLOGY,
    SCENARIOS,
    make_config,
    records,
    running,
    settle,
    wait_for,
)

from correlator.broker import KafkaBroker
from correlator.store import get_incident, list_incidents, open_store
from correlator.stream.kafka_io import new_producer
from correlator.stream.topics import topics_for

pytestmark = pytest.mark.kafka

USER, PASSWORD = "responder", "responder-secret"  # tests/conftest.py SASL_USERS
LINES = (SCENARIOS / "acme-shop-cart-shard-down.jsonl").read_bytes().splitlines()[:3]


async def test_worker_runs_over_sasl(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'history.db'}"
    config = replace(
        make_config(kafka_broker.bootstrap, ACME_TOPOLOGY, db_url=db_url),
        kafka=kafka_broker.sasl_connection(USER, PASSWORD),
    )
    async with running(config) as app:
        producer = new_producer(config)
        await producer.start()
        try:
            for line in LINES:
                await producer.send_and_wait(topics_for(config).raw, line)
        finally:
            await producer.stop()
        await settle(app, len(LINES))
        events = await records(config, topics_for(config).events)
        expected = [(e["incident"]["id"], e["seq"], e["type"]) for e in events]

        async def recorded() -> tuple[bool, Any]:
            got = await asyncio.to_thread(history, db_url)
            return got == expected, got

        await wait_for(recorded, 30, "the history sink did not record the events over SASL")
    assert events[0]["type"] == "incident.opened"
    # Read on the PLAINTEXT listener too: the same records.
    plain = replace(config, kafka=kafka_broker.connection)
    assert await records(plain, topics_for(config).events) == events


def history(url: str) -> list[tuple[str, int, str]]:
    engine = open_store(url)
    try:
        with Session(engine) as session:
            out = []
            for incident in list_incidents(session):
                found = get_incident(session, incident.id)
                assert found is not None
                out.extend((incident.id, e.seq, e.type) for e in found[1])
            return out
    finally:
        engine.dispose()
