"""The simulator: deterministic, real formats that decode, labels that map, replayable files."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from correlator.adapters import decode_payload
from correlator.broker import KafkaBroker, TopicSpec, ensure_topics
from correlator.commands.simulate import produce
from correlator.core.matching import Matcher
from correlator.core.timefmt import parse_time
from correlator.core.topology import Topology
from correlator.replay import RawInput, Replay
from correlator.simulate import SCENARIOS, SimPayload, simulate
from correlator.topology_files import load_topology
from correlator.wire import event_to_dict

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = sorted((ROOT / "topologies").glob("*.yaml"))
START = parse_time("2025-03-14T10:00:00Z")


def _topology(path: Path) -> Topology:
    return load_topology(path)


def _take(
    topology: Topology, n: int, *, seed: int = 7, rate: float = 20.0, scenario: str = "storm"
) -> list[SimPayload]:
    payloads = simulate(topology, seed=seed, start=START, rate=rate, scenario=scenario)
    return list(itertools.islice(payloads, n))


def _raw(item: SimPayload) -> bytes:
    return item.payload.encode() if isinstance(item.payload, str) else orjson.dumps(item.payload)


def test_the_same_seed_gives_the_same_payloads_and_another_seed_does_not() -> None:
    topology = _topology(ROOT / "topologies" / "acme-shop.yaml")

    first = [p.to_json() for p in _take(topology, 800)]
    again = [p.to_json() for p in _take(topology, 800)]
    other = [p.to_json() for p in _take(topology, 800, seed=8)]

    assert first == again
    assert first != other


def test_the_rate_changes_only_the_times() -> None:
    topology = _topology(ROOT / "topologies" / "acme-shop.yaml")

    slow = _take(topology, 300, rate=2.0)
    fast = _take(topology, 300, rate=50.0)

    assert [(p.kind, p.fmt, p.key, p.expected) for p in slow] == [
        (p.kind, p.fmt, p.key, p.expected) for p in fast
    ]
    assert [p.at for p in slow[:3]] == [START, START + 500, START + 1000]
    assert [p.at for p in fast[:3]] == [START, START + 20, START + 40]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.stem)
def test_payloads_decode_and_their_alerts_map_as_intended(path: Path, scenario: str) -> None:
    topology = _topology(path)
    matcher = Matcher(topology)
    component_ids = {n.id for n in topology.components}
    kinds: Counter[str] = Counter()
    mapped: Counter[str | None] = Counter()

    for item in _take(topology, 1500, scenario=scenario):
        kinds[item.kind] += 1
        decoded = decode_payload(_raw(item), item.at)
        if item.kind == "malformed":
            assert decoded.alerts == () and len(decoded.dead_letters) >= 1, item.fmt
            continue
        assert decoded.dead_letters == (), (item.fmt, decoded.dead_letters)
        assert decoded.format == item.fmt
        assert len(decoded.alerts) == len(item.expected)
        for alert, expected in zip(decoded.alerts, item.expected, strict=True):
            if not alert.labels:  # a PagerDuty resolve: the trigger's mapping applies
                assert expected in component_ids
                continue
            assert matcher.match(alert.labels).component == expected, alert.labels
            mapped[expected] += 1

    assert kinds["malformed"] >= 5 and kinds["heartbeat"] >= 10
    assert kinds["unmapped"] > 0 and kinds["info"] > 0 and kinds["repeat"] > 0
    assert mapped[None] > 0
    if scenario != "noise":
        assert kinds["episode"] > 0
        assert any(c is not None for c in mapped)


def test_a_storm_uses_every_format_and_every_malformed_kind() -> None:
    formats: Counter[str] = Counter()
    for path in TOPOLOGIES:
        formats.update(p.fmt for p in _take(_topology(path), 3000))

    assert {"alertmanager", "grafana", "pagerduty", "cloudwatch", "opsgenie"} <= set(formats)
    assert {
        "truncated",
        "alerts-not-array",
        "no-identity",
        "pagerduty-no-routing-key",
        "unknown-shape",
        "clock-skew",
        "sns-text-message",
    } <= set(formats)
    assert formats.most_common(1)[0][0] == "alertmanager"


def test_an_episode_has_a_root_cause_symptoms_repeats_flapping_and_recovery() -> None:
    topology = _topology(ROOT / "topologies" / "acme-shop.yaml")
    items = _take(topology, 600, scenario="outage")
    statuses: dict[str, list[str]] = {}
    for item in items:
        for alert in decode_payload(_raw(item), item.at).alerts:
            if item.kind in ("episode", "repeat") and alert.severity != "info":
                statuses.setdefault(alert.fingerprint, []).append(alert.status)

    episode = {fp: s for fp, s in statuses.items() if "resolved" in s}
    assert len(episode) >= 3  # the root and at least two symptoms recover
    assert any(s.count("firing") > 3 for s in episode.values())  # repeats
    flapped = [s for s in episode.values() if s.count("resolved") >= 2]
    assert flapped  # resolved, fired again, resolved again


def _correlator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "correlator", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_out_file_replays_and_opens_incidents(tmp_path: Path) -> None:
    out = tmp_path / "storm.jsonl"
    args = ["--topology", "topologies/acme-shop.yaml", "--count", "1500", "--seed", "3"]
    args += ["--start", "2025-03-14T10:00:00Z", "--rate", "10"]

    made = _correlator("simulate", *args, "--out", str(out))
    again = _correlator("simulate", *args, "--out", "-")
    replay = _correlator("replay", "--topology", "topologies/acme-shop.yaml", str(out), "--summary")

    assert made.returncode == 0, made.stderr
    lines = out.read_bytes().splitlines()
    assert len(lines) == 1500
    assert out.read_text() == again.stdout
    first = orjson.loads(lines[0])
    assert set(first) == {"received_at", "format", "payload"} and first["format"] is None
    assert replay.returncode == 0, replay.stderr
    summary = orjson.loads(replay.stdout)
    assert summary["incidents_total"] >= 1
    counts = summary["alerts"]
    assert counts["mapped"] > 0 and counts["unmapped"] > 0 and counts["invalid"] > 0


def test_bad_flags_are_one_line_errors(tmp_path: Path) -> None:
    missing = _correlator("simulate", "--topology", str(tmp_path / "nope.yaml"), "--out", "-")
    bad_rate = _correlator("simulate", "-t", "topologies/acme-shop.yaml", "--rate", "0")
    unknown = _correlator("simulate", "-t", "topologies/acme-shop.yaml", "--scenario", "x")

    for result in (missing, bad_rate, unknown):
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1, result.stderr


@pytest.mark.kafka
async def test_produces_to_kafka_and_the_records_come_back(kafka_broker: KafkaBroker) -> None:
    topology = _topology(ROOT / "topologies" / "saas.yaml")
    topic = f"t{uuid.uuid4().hex[:8]}.alerts.raw"
    await ensure_topics(kafka_broker.connection, [TopicSpec(topic, partitions=4)])
    items = _take(topology, 200, rate=400.0)

    began = time.monotonic()
    sent = await produce(iter(items), kafka_broker.connection, topic, START)
    elapsed = time.monotonic() - began

    assert sent == 200
    assert elapsed >= 199 / 400 - 0.05  # paced at the rate
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_broker.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[tuple[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + 20
        while len(seen) < sent and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                seen.extend((m.key, m.value) for m in messages)
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    assert sorted(seen) == sorted((p.key.encode(), p.to_json()) for p in items)


# -- the demo's story ----------------------------------------------------------------------------

STORY_SECONDS = 300


def _story_events(topology: Topology) -> list[tuple[int, dict[str, object]]]:
    """The incident events the core publishes for five minutes of the story, with their times."""
    payloads = _take(topology, 20 * STORY_SECONDS, seed=0, scenario="story")
    replay = Replay(topology)
    events: list[tuple[int, dict[str, object]]] = []
    for p in payloads:
        for clock, result in replay.feed(RawInput(p.key, _raw(p), p.at, None)):
            events.extend((clock - START, event_to_dict(e)) for e in result.events)
    return events


def _open_share(events: list[tuple[int, dict[str, object]]]) -> float:
    """The share of the run during which at least one incident was open."""
    open_ids: set[str] = set()
    covered = last = 0
    for t, event in events:
        if open_ids:
            covered += t - last
        last = t
        snapshot = event["incident"]
        assert isinstance(snapshot, dict)
        if snapshot["status"] == "open":
            open_ids.add(snapshot["id"])
        else:
            open_ids.discard(snapshot["id"])
    if open_ids:
        covered += STORY_SECONDS * 1000 - last
    return covered / (STORY_SECONDS * 1000)


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.stem)
def test_the_story_opens_an_incident_in_its_first_second(path: Path) -> None:
    events = _story_events(_topology(path))
    first = next((t, e["type"]) for t, e in events)
    assert first[1] == "incident.opened"
    assert first[0] < 1000


def test_the_story_keeps_an_incident_open_and_merges_escalates_and_resolves() -> None:
    events = _story_events(_topology(ROOT / "topologies" / "acme-shop.yaml"))
    kinds = Counter(str(e["type"]) for _, e in events)
    assert _open_share(events) >= 0.9
    assert kinds["incident.merged"] >= 2
    assert kinds["incident.resolved"] >= 2
    assert kinds["incident.opened"] >= 3
    severities = [str(e["incident"]["severity"]) for _, e in events]  # type: ignore[index]
    assert len(set(severities)) >= 2  # it escalates (and calms down)
