"""The stream processor end to end against a local Kafka broker (one worker, in-process).

1. Throughput: N single-alert Alertmanager payloads (a storm: a few thousand distinct alerts,
   each re-sent many times) are produced to `alerts.raw` first; then a worker starts and the
   time until every stage has processed them (ingest → alert state → health → impact) is
   measured. Baseline in the same run: a plain aiokafka consumer doing `getmany` +
   `orjson.loads` over the same topic — the ceiling any Python consumer of it has.
2. Latency at ~1,000 alerts/s: alerts are produced at that rate while the worker runs, one in
   ten new (a change) and the rest re-sends of firing ones, as Alertmanager does; the latency of
   a new alert is from its produce to the first `incident.events` record that lists it (every
   health change goes on at once; the stages wait for progress marks to apply inputs in
   event-time order, which is part of the tail).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from correlator.broker import KafkaBroker
from correlator.kafka_connection import KafkaConnection
from correlator.stream.app import create_app, prepare
from correlator.stream.assignment import assigned, recovered
from correlator.stream.config import WorkerConfig
from correlator.stream.context import CurrentTopology
from correlator.stream.topics import topics_for

COMPONENTS = 200
DISTINCT = 4000
PAYLOADS = 100_000
LATENCY_RATE = 1000
LATENCY_SECONDS = 10
LATENCY_COMPONENTS = 40
NEW_EVERY = 10
"""In the latency run, one alert in ten is new (a change); the rest re-send firing ones."""


def _topology_doc() -> dict[str, Any]:
    components = [{"id": f"svc-{i:03d}", "kind": "service"} for i in range(COMPONENTS)]
    # 20 business services of 10 components each: storms group into a few incidents.
    services = [
        {
            "id": f"bs-{j}",
            "tier": 1 + j % 3,
            "depends_on": [f"svc-{i:03d}" for i in range(j, COMPONENTS, 20)],
        }
        for j in range(20)
    ]
    return {
        "apiVersion": "correlator/v1",
        "name": "bench",
        "components": components,
        "business_services": services,
        "segments": [
            {
                "id": f"seg-{k}",
                "customers": 10_000,
                "uses": [f"bs-{j}" for j in range(k, 20, 10)],
            }
            for k in range(10)
        ],
    }


def _topology_file() -> str:
    path = Path(tempfile.mkdtemp(prefix="correlator-bench-")) / "bench.json"
    path.write_bytes(orjson.dumps(_topology_doc()))
    return str(path)


def _now_rfc3339(offset_ms: int = 0) -> str:
    t = time.time() * 1000 + offset_ms
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t / 1000)) + f".{int(t) % 1000:03d}Z"


def _payload(fingerprint: str, component: int, severity: str, starts_at: str) -> bytes:
    alert = {
        "status": "firing",
        "labels": {
            "alertname": "HighErrorRate",
            "severity": severity,
            "service": f"svc-{component:03d}",
            "namespace": "shop",
            "pod": f"svc-{component:03d}-7d9f8c6b5-x2x9q",
        },
        "annotations": {"summary": f"errors on svc-{component:03d}"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph",
        "fingerprint": fingerprint,
    }
    return orjson.dumps({"version": "4", "status": "firing", "receiver": "c", "alerts": [alert]})


def storm(count: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    starts = _now_rfc3339(-60_000)
    distinct = [
        (f"{rng.getrandbits(64):016x}", rng.randrange(COMPONENTS), rng.choice(["warning", "info"]))
        for _ in range(DISTINCT)
    ]
    return [
        _payload(fp, c, sev, starts) for fp, c, sev in (rng.choice(distinct) for _ in range(count))
    ]


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        futures = [await producer.send(topic, v) for v in values]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def baseline(bootstrap: str, topic: str, count: int) -> float:
    """Messages/s of aiokafka getmany + orjson.loads over the topic."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        done = 0
        start = None
        while done < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            if start is None and batches:
                start = time.perf_counter()
            for messages in batches.values():
                for m in messages:
                    orjson.loads(m.value)
                done += len(messages)
        return count / (time.perf_counter() - (start or time.perf_counter()))
    finally:
        await consumer.stop()


async def _start(config: WorkerConfig, current: CurrentTopology) -> Any:
    app = create_app(config, current)
    await app.start()
    topics = topics_for(config)
    while not (
        recovered(app)
        and 0 in assigned(app, topics.impact_input)
        and len(assigned(app, topics.keyed)) == config.partitions
    ):
        await asyncio.sleep(0.05)
    # The impact stage rebuilds from the compacted topics (≈ 1 s) on its first input after it
    # gained `impact.input`; measure the worker once it has, not that one-off rebuild.
    await app.correlator_impact.ready()  # type: ignore[attr-defined]
    return app


async def throughput(bootstrap: str) -> tuple[float, float]:
    config = WorkerConfig(
        kafka=KafkaConnection(bootstrap),
        topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
        partitions=2,
        fast_timeouts=True,
        tick_interval=5.0,
        topology_path=_topology_file(),
    )
    current = await prepare(config)
    raw = topics_for(config).raw
    await _produce(bootstrap, raw, storm(PAYLOADS))
    base = await baseline(bootstrap, raw, PAYLOADS)
    app = await _start(config, current)
    ctx = app.correlator
    try:
        start = time.perf_counter()
        while not (ctx.counters.get("ingest.alerts", 0) >= PAYLOADS and ctx.settled()):
            await asyncio.sleep(0.01)
        rate = PAYLOADS / (time.perf_counter() - start)
    finally:
        await app.stop()
    return rate, base


async def latency(bootstrap: str) -> list[float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    config = WorkerConfig(
        kafka=KafkaConnection(bootstrap),
        topic_prefix=f"lat{uuid.uuid4().hex[:6]}.",
        partitions=2,
        fast_timeouts=True,
        tick_interval=5.0,
        topology_path=_topology_file(),
    )
    current = await prepare(config)
    topics = topics_for(config)
    app = await _start(config, current)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    consumer = AIOKafkaConsumer(
        topics.events,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=config.fetch_wait_ms,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()

    async def watch() -> None:
        while True:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                now = time.perf_counter()
                for m in messages:
                    for c in orjson.loads(m.value)["incident"]["components"]:
                        for a in c["alerts"]:
                            seen.setdefault(a["fingerprint"], now)

    watcher = asyncio.create_task(watch())
    try:
        rng = random.Random(11)
        total = LATENCY_RATE * LATENCY_SECONDS
        firing: list[tuple[str, int, str]] = []
        start = time.perf_counter()
        for i in range(total):
            due = start + i / LATENCY_RATE
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if i % NEW_EVERY == 0 or not firing:
                fp, component = f"lat-{i:08d}", rng.randrange(LATENCY_COMPONENTS)
                firing.append((fp, component, _now_rfc3339()))
                sent[fp] = time.perf_counter()
                value = _payload(fp, component, "warning", firing[-1][2])
            else:  # a repeat of a firing alert: changes nothing, costs only its decoding
                fp, component, starts = rng.choice(firing)
                value = _payload(fp, component, "warning", starts)
            await producer.send(topics.raw, value)
        await asyncio.sleep(3.0)
    finally:
        watcher.cancel()
        await producer.stop()
        await consumer.stop()
        await app.stop()
    return [(seen[fp] - t) * 1000 for fp, t in sent.items() if fp in seen]


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else float("nan")


def main() -> None:
    broker = KafkaBroker().start()
    try:
        rate, base = asyncio.run(throughput(broker.bootstrap))
        print(
            f"throughput: {rate:,.0f} alerts/s through one worker (ingest → impact), "
            f"{PAYLOADS:,} payloads, {DISTINCT:,} distinct alerts"
        )
        print(f"baseline:   {base:,.0f} msg/s aiokafka getmany + orjson.loads on the same topic")
        print(f"ratio:      {rate / base:.3f} of the baseline")
        lat = asyncio.run(latency(broker.bootstrap))
        print(
            f"latency at {LATENCY_RATE:,} alerts/s, 1 in {NEW_EVERY} new "
            f"({len(lat):,} new alerts seen): "
            f"p50 {_percentile(lat, 50):.1f} ms, p90 {_percentile(lat, 90):.1f} ms, "
            f"p99 {_percentile(lat, 99):.1f} ms"
        )
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
