"""The history sink inside the worker: with `db_url` set, `incident.events` fill the database
while the app runs, and the sink stops with the app."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from worker_harness import (
    ACME_TOPOLOGY,
    SCENARIOS,
    make_config,
    produce_settled,
    records,
    running,
    wait_for,
)

from correlator.broker import KafkaBroker
from correlator.store import get_incident, list_incidents, open_store
from correlator.stream.topics import topics_for

pytestmark = pytest.mark.kafka

LINES = (SCENARIOS / "acme-shop-cart-shard-down.jsonl").read_bytes().splitlines()


def history(url: str) -> list[tuple[str, str, list[tuple[int, str]]]]:
    engine = open_store(url)
    try:
        with Session(engine) as session:
            out = []
            for incident in list_incidents(session):
                found = get_incident(session, incident.id)
                assert found is not None
                out.append((incident.id, incident.status, [(e.seq, e.type) for e in found[1]]))
            return out
    finally:
        engine.dispose()


async def test_worker_with_db_url_records_incident_history(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    config = make_config(kafka_broker.bootstrap, ACME_TOPOLOGY, db_url=url)
    async with running(config) as app:
        await produce_settled(app, config, LINES)
        events = await records(config, topics_for(config).events)
        expected = [
            (
                events[0]["incident"]["id"],
                "resolved",
                [(e["seq"], e["type"]) for e in events],
            )
        ]

        async def recorded() -> tuple[bool, Any]:
            got = await asyncio.to_thread(history, url)
            return got == expected, got

        await wait_for(recorded, 30, "the sink did not record the incident")
    assert events[0]["type"] == "incident.opened" and events[-1]["type"] == "incident.resolved"
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "correlator-history-sink"]

    listing = subprocess.run(
        [sys.executable, "-m", "correlator", "incidents", "list", "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listing.returncode == 0, listing.stderr
    assert expected[0][0][:8] in listing.stdout and "resolved" in listing.stdout
