"""Running the stream app in-process against the session's real Kafka broker, and reading back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from correlator.kafka_connection import KafkaConnection
from correlator.stream.app import create_app, prepare
from correlator.stream.assignment import assigned, recovered
from correlator.stream.config import WorkerConfig
from correlator.stream.kafka_io import latest_by_key, read_to_end
from correlator.stream.topics import topics_for

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = ROOT / "topologies"
SCENARIOS = TOPOLOGIES / "scenarios"
ACME_TOPOLOGY = TOPOLOGIES / "acme-shop.yaml"


def make_config(bootstrap: str, topology: Path | str | None, **overrides: Any) -> WorkerConfig:
    """Fast-test settings (KAFKA.md) and a unique topic prefix."""
    config = WorkerConfig(
        kafka=KafkaConnection(bootstrap),
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        topology_path=None if topology is None else str(topology),
        partitions=2,
        tick_interval=0.5,
        fast_timeouts=True,
    )
    return replace(config, **overrides)


@asynccontextmanager
async def running(config: WorkerConfig, timeout: float = 45.0) -> AsyncIterator[Any]:
    """A started app holding every partition; stopped on exit."""
    current = await prepare(config)
    app = create_app(config, current)
    await app.start()
    try:
        topics = topics_for(config)
        await wait_for(
            lambda: _ready(app, topics.impact_input, topics.keyed, config.partitions),
            timeout,
            "the app never got its partitions",
        )
        yield app
    finally:
        await app.stop()


async def _ready(app: Any, impact_input: str, keyed: str, partitions: int) -> bool:
    return (
        recovered(app)
        and 0 in assigned(app, impact_input)
        and len(assigned(app, keyed)) == partitions
    )


async def wait_for(
    check: Callable[[], Awaitable[Any]], timeout: float, what: str, interval: float = 0.2
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        ok = last[0] if isinstance(last, tuple) else last
        if ok:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} (within {timeout}s); last: {last!r}")


async def produce(
    bootstrap: str, topic: str, values: Iterable[bytes], key: bytes | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, v, key=key) for v in values]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def records(config: WorkerConfig, topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(v) for _, v in await read_to_end(config, topic) if v is not None]


async def latest(config: WorkerConfig, topic: str) -> dict[str, dict[str, Any]]:
    return {
        k.decode(): orjson.loads(v)
        for k, v in latest_by_key(await read_to_end(config, topic)).items()
    }


def incident_view(snapshot: dict[str, Any]) -> tuple[Any, ...]:
    """What must agree between stream and replay: ids, seq and times may differ."""
    return (
        tuple(sorted(snapshot["root_causes"])),
        snapshot["customers_affected"],
        snapshot["customers_degraded"],
        snapshot["severity"],
        tuple(sorted((s["id"], s["state"]) for s in snapshot["business_services"])),
    )


async def open_incidents(config: WorkerConfig) -> list[tuple[Any, ...]]:
    snapshots = (await latest(config, topics_for(config).incidents)).values()
    return sorted(incident_view(s) for s in snapshots if s["status"] == "open")


async def service_states(config: WorkerConfig) -> dict[str, str]:
    return {
        k: v["state"] for k, v in (await latest(config, topics_for(config).service_impact)).items()
    }


async def settle(app: Any, alerts: int, timeout: float = 30.0) -> None:
    """Wait until `alerts` alerts were ingested and every stage has processed what it was sent."""
    ctx = app.correlator

    async def check() -> tuple[bool, dict[str, int]]:
        done = ctx.counters.get("ingest.alerts", 0) >= alerts and ctx.settled()
        if done:
            await asyncio.sleep(0.05)
            done = ctx.settled()
        return done, dict(ctx.counters)

    await wait_for(check, timeout, "the pipeline did not settle", interval=0.05)


async def produce_settled(
    app: Any, config: WorkerConfig, values: list[bytes], base: int = 0
) -> int:
    """Produce one payload at a time and let each settle (the order replay sees); returns the
    number of alerts ingested so far."""
    raw = topics_for(config).raw
    ctx = app.correlator
    total = base
    for value in values:
        before = ctx.counters.get("ingest.records", 0)
        await produce(config.kafka.bootstrap, raw, [value])
        await wait_for(
            lambda before=before: _grew(ctx, before), 30, "ingest did not read the payload", 0.02
        )
        total = ctx.counters.get("ingest.alerts", 0)
        await settle(app, total)
    return total


async def _grew(ctx: Any, before: int) -> bool:
    return ctx.counters.get("ingest.records", 0) > before
