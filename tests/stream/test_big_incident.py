"""An incident too big for Kafka's 1 MB default record goes through (real broker).

A storm of thousands of components is one incident whose snapshot lists every component
(DESIGN §6): at about 300 bytes a component, 3,500 of them pass Kafka's default
`max.message.bytes`. Publishing it failed: the worker's producer refused the record, and the
impact stage stopped at the moment the war room mattered most. Here 600 components with long
runbook URLs make a 1.6 MB snapshot.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
import yaml
from worker_harness import latest, make_config, produce, records, running, settle, wait_for

from correlator.broker import KafkaBroker
from correlator.core.timefmt import SECOND, format_time, parse_time
from correlator.stream.topics import topics_for

pytestmark = pytest.mark.kafka

COMPONENTS = 600
T0 = parse_time("2025-03-14T12:00:00Z")


def big_topology(path: Path) -> None:
    ids = [f"svc-{i:04d}" for i in range(COMPONENTS)]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "correlator/v1",
                "name": "big-incident",
                "segments": [{"id": "everyone", "customers": 1000, "uses": ["shop"]}],
                "business_services": [{"id": "shop", "tier": 1, "depends_on": ids}],
                "components": [
                    {"id": c, "runbook": f"https://runbooks.example.com/{c}/" + "r" * 2400}
                    for c in ids
                ],
            }
        )
    )


def alert(i: int) -> bytes:
    component = f"svc-{i:04d}"
    return orjson.dumps(
        {
            "fingerprint": f"fp-{component}",
            "status": "firing",
            "severity": "critical",
            "labels": {"alertname": "Down", "component": component},
            "summary": f"{component} down",
            "starts_at": format_time(T0 + i * SECOND // 100),
            "source": "canonical",
        }
    )


async def test_an_incident_over_one_megabyte_is_published(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    path = tmp_path / "big-incident.yaml"
    big_topology(path)
    config = make_config(kafka_broker.bootstrap, path)
    topics = topics_for(config)
    async with running(config) as app:
        await produce(config.kafka.bootstrap, topics.raw, [alert(i) for i in range(COMPONENTS)])
        await settle(app, COMPONENTS, timeout=120)

        async def whole() -> tuple[bool, int]:
            snapshots = await latest(config, topics.incidents)
            sizes = [len(s["components"]) for s in snapshots.values()]
            return (COMPONENTS in sizes, max(sizes, default=0))

        await wait_for(whole, 60, "the incident with every component never reached `incidents`")
    snapshot = next(iter((await latest(config, topics.incidents)).values()))
    assert len(orjson.dumps(snapshot)) > 1024 * 1024  # over Kafka's default record size
    assert snapshot["customers_affected"] == 1000
    events = await records(config, topics.events)
    assert events[-1]["incident"]["components"] == snapshot["components"]
    # A consumer as the war room, the history sink and the notifier build theirs (defaults
    # of `KafkaConnection.consumer`) reads the big record too.
    consumer = config.kafka.consumer(topics.events, auto_offset_reset="earliest")
    await consumer.start()
    try:
        biggest = 0
        deadline = asyncio.get_running_loop().time() + 30
        while biggest < len(orjson.dumps(snapshot)):
            assert asyncio.get_running_loop().time() < deadline, f"read at most {biggest} bytes"
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                biggest = max([biggest, *(len(m.value) for m in messages)])
    finally:
        await consumer.stop()
