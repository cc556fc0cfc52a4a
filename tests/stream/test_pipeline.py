"""The stream app against a real Kafka broker: alerts.raw in, incidents out, as replay says."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from worker_harness import (
    ACME_TOPOLOGY,
    SCENARIOS,
    TOPOLOGIES,
    incident_view,
    latest,
    make_config,
    open_incidents,
    produce,
    produce_settled,
    records,
    running,
    service_states,
    settle,
    wait_for,
)

from correlator.broker import KafkaBroker
from correlator.core.engine import EngineSettings
from correlator.core.incidents import IncidentSettings
from correlator.core.timefmt import format_time, parse_time
from correlator.replay import Replay, read_inputs
from correlator.stream.topics import topics_for
from correlator.stream.topology import publish_topology
from correlator.topology_files import load_topology, parse_topology_text

pytestmark = pytest.mark.kafka

SCENARIO_CASES = [
    ("acme-shop-cart-shard-down", "acme-shop", 3),
    ("bank-shard-then-quorum", "bank", 8),
    ("saas-postgres-outage", "saas", 7),
]


def replay_of(topology: Path, lines: list[bytes], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / f"replay-{len(lines)}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    replay = Replay(load_topology(topology))
    for _ in replay.run(read_inputs([path])):
        pass
    return replay.summary()


def expected_incidents(summary: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(incident_view(s) for s in summary["open_incidents"])


@pytest.mark.parametrize(("scenario", "topology", "cut"), SCENARIO_CASES)
async def test_scenario_matches_replay(
    kafka_broker: KafkaBroker, tmp_path: Path, scenario: str, topology: str, cut: int
) -> None:
    """Half the scenario, then the rest: both times the open incidents and service states equal
    a replay of the same alerts."""
    topology_path = TOPOLOGIES / f"{topology}.yaml"
    lines = (SCENARIOS / f"{scenario}.jsonl").read_bytes().splitlines()
    config = make_config(kafka_broker.bootstrap, topology_path)
    async with running(config) as app:
        for upto, sent in ((lines[:cut], lines[:cut]), (lines, lines[cut:])):
            summary = replay_of(topology_path, upto, tmp_path)
            await produce_settled(app, config, sent)
            want = expected_incidents(summary)
            await wait_for(lambda want=want: _equal(open_incidents(config), want), 30, "incidents")
            states = {s["id"]: s["state"] for s in summary["business_services"]}
            await wait_for(lambda s=states: _equal(service_states(config), s), 30, "services")


async def _equal(actual: Any, want: Any) -> tuple[bool, Any]:
    got = await actual
    return got == want, {"got": got, "want": want}


ACME = ACME_TOPOLOGY
ACME_LINES = (SCENARIOS / "acme-shop-cart-shard-down.jsonl").read_bytes().splitlines()
FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "fixtures"
REAL_FORMAT = {  # fixture → a received_at that makes its event times valid
    "alertmanager-1.json": "2023-02-06T13:12:00Z",
    "grafana-1.json": "2021-10-12T08:00:00Z",
    "pagerduty-1.json": "2015-07-17T08:45:00Z",
    "cloudwatch-sns-lambda-1.json": "2015-06-03T17:45:00Z",
    "opsgenie-1.json": "2015-01-05T10:05:00Z",
}


def envelope(payload: bytes, received_at: str, fmt: str | None = None) -> bytes:
    """What the ingress writes to alerts.raw."""
    return orjson.dumps(
        {"received_at": received_at, "format": fmt, "payload": orjson.loads(payload)}
    )


async def test_bad_input_goes_to_dlq_and_later_alerts_still_count(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    real = [envelope((FIXTURES / name).read_bytes(), at) for name, at in REAL_FORMAT.items()]
    bad = [
        b"\xff\xfe not json at all",
        b'{"neither": "a known format"}',
        envelope(
            b'{"status": "firing", "labels": {"service": "cartservice"}}',
            "2025-03-14T10:00:00Z",
            fmt="nonsense",
        ),
        b"",
    ]
    good = [ACME_LINES[0], *real, ACME_LINES[1]]
    config = make_config(kafka_broker.bootstrap, ACME)
    topics = topics_for(config)
    async with running(config) as app:
        await produce_settled(app, config, [good[0], *bad, *good[1:]])
        dlq = await records(config, topics.dlq)
        unmapped = await records(config, topics.unmapped)
        incidents = await open_incidents(config)
    raw = await read_raw(config)
    summary = replay_of(ACME, good, tmp_path)
    assert incidents == expected_incidents(summary)
    assert len(unmapped) == summary["alerts"]["unmapped"] > 0
    assert {u["alert"]["source"] for u in unmapped} >= {"alertmanager", "pagerduty"}
    assert [(d["topic"], raw[(d["partition"], d["offset"])]) for d in dlq] == [
        (topics.raw, value) for value in bad
    ]
    reasons = [d["reason"] for d in dlq]
    assert reasons[0].startswith("payload is not valid UTF-8")
    assert reasons[1].startswith("unknown alert format")
    assert reasons[2].startswith("unknown format name 'nonsense'")
    assert reasons[3] == "empty payload"
    assert all(d["schema"] == 1 and d["received_at"] for d in dlq)


async def read_raw(config: Any) -> dict[tuple[int, int], bytes]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = topics_for(config).raw
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(config.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: dict[tuple[int, int], bytes] = {}
        while sum(ends.values()) > len(out):
            for tp, ms in (await consumer.getmany(timeout_ms=500)).items():
                out.update(((tp.partition, m.offset), m.value) for m in ms)
        return out
    finally:
        await consumer.stop()


async def events_of(config: Any) -> list[dict[str, Any]]:
    return await records(config, topics_for(config).events)


async def test_restart_continues_incidents_without_reopening(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    config = make_config(kafka_broker.bootstrap, ACME)
    async with running(config) as app:
        await produce_settled(app, config, ACME_LINES[:3])
    first = await events_of(config)
    assert first[0]["type"] == "incident.opened"
    incident_id = first[0]["incident"]["id"]

    # Produced while no worker runs: must be processed by the next one.
    await produce(config.kafka.bootstrap, topics_for(config).raw, ACME_LINES[3:5])
    async with running(config) as app:
        await settle(app, 2)
        assert await open_incidents(config) == expected_incidents(
            replay_of(ACME, ACME_LINES[:5], tmp_path)
        )
    second = await events_of(config)

    async with running(config) as app:  # nothing new: a restart alone publishes no event
        await settle(app, 0)
        await asyncio.sleep(1.0)
        await settle(app, 0)
        assert await events_of(config) == second
        await produce_settled(app, config, ACME_LINES[5:])
    third = await events_of(config)

    assert {e["incident"]["id"] for e in third} == {incident_id}
    assert [e["type"] for e in third].count("incident.opened") == 1
    assert [e["seq"] for e in third] == list(range(1, len(third) + 1))
    assert len(second) > len(first) and third[-1]["type"] == "incident.resolved"
    assert await open_incidents(config) == []


async def test_topology_publish_switches_version_and_rejects_invalid(
    kafka_broker: KafkaBroker,
) -> None:
    config = make_config(kafka_broker.bootstrap, ACME)
    text = ACME.read_text()
    bigger = text.replace("customers: 120000", "customers: 140000")
    new = parse_topology_text(bigger, "bigger")
    old = load_topology(ACME)
    async with running(config) as app:
        await produce_settled(app, config, ACME_LINES[:1])
        [before] = (await latest(config, topics_for(config).incidents)).values()
        assert before["topology"]["version"] == old.version

        await publish_topology(config, new, bigger, "bigger.yaml")

        async def switched() -> tuple[bool, Any]:
            [snap] = (await latest(config, topics_for(config).incidents)).values()
            return snap["topology"]["version"] == new.version, snap["customers_affected"]

        _, customers = await wait_for(switched, 20, "the new version was never stamped")
        assert customers == before["customers_affected"] + 5_000  # a quarter of 20,000 more

        await produce(
            config.kafka.bootstrap,
            topics_for(config).topology,
            [orjson.dumps({"schema": 1, "name": "acme-shop", "text": "name: [unclosed"})],
            key=b"acme-shop",
        )
        await asyncio.sleep(1.5)
        assert app.correlator.topology.topology.version == new.version
        [after] = (await latest(config, topics_for(config).incidents)).values()
        assert after["topology"]["version"] == new.version


async def test_idle_ticks_resolve_after_without_new_alerts(kafka_broker: KafkaBroker) -> None:
    settings = EngineSettings(incidents=IncidentSettings(resolve_after=2000))
    config = make_config(kafka_broker.bootstrap, ACME, engine=settings)
    resolve = ACME_LINES[3]  # cart-db-2 resolved
    async with running(config) as app:
        await produce_settled(app, config, [ACME_LINES[0], resolve])
        [snap] = (await latest(config, topics_for(config).incidents)).values()
        assert snap["status"] == "open"

        async def resolved() -> tuple[bool, Any]:
            [snap] = (await latest(config, topics_for(config).incidents)).values()
            return snap["status"] == "resolved", snap

        _, snap = await wait_for(resolved, 15, "the incident never resolved")
    ends_at = orjson.loads(resolve)["ends_at"]
    assert snap["resolved_at"] == format_time(parse_time(ends_at) + 2000)


async def test_alert_rules_and_unseen_resolves_in_the_stream_match_replay(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    """`alert_rules` apply in the stream's alert-state stage as in replay, and a resolve never
    seen firing is counted by its labels: unmapped ones reach `alerts.unmapped`."""
    topology = tmp_path / "acme-rules.yaml"
    topology.write_text(
        ACME.read_text()
        + "\nalert_rules:\n"
        + "  - match: {alertname: 'CartService*'}\n    severity: info\n"
        + "  - match: {alertname: DeadMansSnitch}\n    heartbeat: true\n"
    )

    def am(status: str, at: str, **labels: str) -> bytes:
        alert = {"status": status, "labels": labels, "startsAt": at}
        if status == "resolved":
            alert["endsAt"] = at
        return envelope(orjson.dumps({"version": "4", "alerts": [alert]}), at)

    lines = [
        ACME_LINES[0],  # cart-db-2 down: an incident
        ACME_LINES[1],  # CartServiceErrorRate warning → info by the first rule: no change
        am("firing", "2025-03-14T10:01:00Z", alertname="DeadMansSnitch", prometheus="eu"),
        am("resolved", "2025-03-14T10:01:10Z", alertname="Gone", service="nowhere"),
        am("resolved", "2025-03-14T10:01:20Z", alertname="Gone", service="cartservice"),
    ]
    config = make_config(kafka_broker.bootstrap, topology)
    async with running(config) as app:
        await produce_settled(app, config, lines)
        incidents = await open_incidents(config)
        unmapped = await records(config, topics_for(config).unmapped)
    summary = replay_of(topology, lines, tmp_path)
    assert incidents == expected_incidents(summary)
    [(roots, *_)] = incidents
    assert roots == ("cart-db-2",)  # cartservice's warning was overridden to info
    assert summary["alerts"] == {"received": 5, "mapped": 3, "unmapped": 1, "invalid": 0}
    assert [(u["alert"]["labels"].get("service"), u["alert"]["status"]) for u in unmapped] == [
        ("nowhere", "resolved")
    ]
