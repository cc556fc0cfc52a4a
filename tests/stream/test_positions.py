"""Each stage applies a partition's records strictly in offset order from the group's committed
offset (`correlator/stream/positions.py`), whatever Faust delivers.

Faust 0.15.3 lost records around an assignment (issue 9): records fetched before its seek to
the committed offsets were cleared from the stream queue, and fetched again below its read
offset they were dropped, so the stage saw offset 8 after 3 and never 4-7 (and Faust's gap
3..7 counted as acknowledged, so the commit passed them). The test makes the worker's own
consumer skip records in the same way — it seeks the `alerts.keyed` partitions past the
alerts of an outage — and the stage still applies them: it sees a record ahead of the one it
expects and reads the partition again from there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from faust.types import TP
from test_pipeline import expected_incidents, replay_of
from worker_harness import (
    ACME_TOPOLOGY,
    SCENARIOS,
    make_config,
    open_incidents,
    produce,
    wait_for,
)
from worker_harness import running as running_app

from correlator.broker import KafkaBroker
from correlator.stream.app import prepare
from correlator.stream.config import WorkerConfig
from correlator.stream.kafka_io import read_until, start_offsets
from correlator.stream.positions import Step, step
from correlator.stream.topics import topics_for
from correlator.wire import loads


def test_only_the_next_offset_is_applied() -> None:
    assert step(10, 10) is Step.APPLY
    assert step(10, 9) is Step.REPEAT  # applied already (delivered again)
    assert step(10, 14) is Step.AHEAD  # 10..13 were lost on the way: read them again


@pytest.mark.kafka
async def test_records_the_consumer_skipped_are_read_again_and_applied(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    lines = (SCENARIOS / "acme-shop-cart-shard-down.jsonl").read_bytes().splitlines()[:3]
    want = expected_incidents(replay_of(ACME_TOPOLOGY, lines, tmp_path))
    assert want, "the three alerts open an incident in replay"
    config = make_config(kafka_broker.bootstrap, ACME_TOPOLOGY)
    topics = topics_for(config)
    keyed = [TP(topics.keyed, p) for p in range(config.partitions)]
    async with running_app(config) as app:
        consumer = app.consumer
        consumer.pause_partitions(keyed)
        ends_before = await _ends(consumer, keyed)
        await produce(config.kafka.bootstrap, topics.raw, lines, key=b"storm")
        ctx = app.correlator
        await wait_for(lambda: _ingested(ctx, len(lines)), 30, "ingest did not read the alerts")
        ends = await _ends(consumer, keyed)
        assert await _alerts_between(config, ends_before, ends) == len(lines)
        for tp in keyed:  # the records written while paused are never fetched
            await consumer.seek(tp, ends[tp])
        consumer.resume_partitions(keyed)
        await wait_for(lambda: _equal(open_incidents(config), want), 30, "incidents")


@pytest.mark.kafka
async def test_the_start_offset_is_the_committed_one_or_the_earliest(
    kafka_broker: KafkaBroker,
) -> None:
    config = make_config(kafka_broker.bootstrap, ACME_TOPOLOGY)
    topic = topics_for(config).raw
    await prepare(config)
    await produce(config.kafka.bootstrap, topic, [b"{}"] * 5, key=b"storm")
    group = f"{config.app_id}-probe"
    assert await start_offsets(config, group, topic, {0, 1}) == {0: 0, 1: 0}
    consumer = config.kafka.consumer(group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in (0, 1)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        full = next(tp for tp in tps if ends[tp] == 5)
        await consumer.commit({full: 3})
    finally:
        await consumer.stop()
    assert (await start_offsets(config, group, topic, {0, 1}))[full.partition] == 3


async def _ends(consumer: Any, tps: list[TP]) -> dict[TP, int]:
    return dict(await consumer.highwaters(*tps))


async def _alerts_between(config: WorkerConfig, start: dict[TP, int], end: dict[TP, int]) -> int:
    """Alerts in the `alerts.keyed` records from `start` up to `end` (the ones skipped)."""
    count = 0
    for tp in end:
        _, values = await read_until(config, tp.topic, tp.partition, end[tp], start=start[tp])
        count += sum(len(loads(v).get("alerts", [])) for v, _ in values if v is not None)
    return count


async def _ingested(ctx: Any, alerts: int) -> bool:
    return bool(ctx.counters.get("ingest.alerts", 0) >= alerts)


async def _equal(actual: Any, want: Any) -> tuple[bool, Any]:
    got = await actual
    return got == want, {"got": got, "want": want}
