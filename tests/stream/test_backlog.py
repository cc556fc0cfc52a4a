"""A backlog is not live traffic, and the history must not care (DESIGN §2): known outages
produced all at once — before any worker starts, and while the worker is down — give the same
incident history on `incident.events` and in the history database as `correlator replay`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from crash_scenarios import report_backlog
from equivalence import db_events, histories, integrity, replay_events
from worker_harness import (
    ACME_TOPOLOGY,
    make_config,
    produce,
    produce_settled,
    records,
    running,
    wait_for,
)

from correlator.broker import KafkaBroker
from correlator.stream.config import WorkerConfig
from correlator.stream.topics import topics_for

pytestmark = pytest.mark.kafka

OUTAGES = Path(__file__).parent / "data" / "acme-shop-outages.jsonl"
"""A Redis outage that opens and resolves, then a payment outage that resolves and re-fires."""


async def agrees_with_replay(
    config: WorkerConfig, want: list[Any], db_url: str
) -> tuple[bool, dict[str, Any]]:
    """Stream history (topic and database) equals replay's; the stream's seqs are sound."""
    events = await records(config, topics_for(config).events)
    stored = db_events(db_url)
    checks = integrity(events)
    ok = (
        histories(events) == want
        and histories(stored) == want
        and not any(v for k, v in checks.items() if k != "redelivered")
    )
    got = [[(step[0], step[1], step[9]) for step in h] for h in histories(events)]
    return ok, {"events": len(events), "stored": len(stored), **checks, "history": got}


async def test_backlog_before_the_worker_starts_equals_replay(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    lines = OUTAGES.read_bytes().splitlines()
    want = histories(replay_events(ACME_TOPOLOGY, lines, tmp_path))
    db_url = f"sqlite:///{tmp_path / 'history.db'}"
    config = make_config(kafka_broker.bootstrap, ACME_TOPOLOGY, db_url=db_url, partitions=4)
    from correlator.stream.app import prepare

    await prepare(config)
    await produce(
        config.kafka.bootstrap, topics_for(config).raw, lines
    )  # all of it, nobody reading
    async with running(config):
        _, seen = await wait_for(
            lambda: agrees_with_replay(config, want, db_url), 45, "stream history == replay"
        )
    print(f"backlog of {len(lines)} alerts before start: {len(want)} incidents as replay, {seen}")
    report_backlog("backlog (before the worker starts)", len(lines), len(want), seen)


async def test_backlog_while_the_worker_is_down_equals_replay(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    lines = OUTAGES.read_bytes().splitlines()
    redis, payment = lines[:8], lines[8:]
    db_url = f"sqlite:///{tmp_path / 'history.db'}"
    config = make_config(kafka_broker.bootstrap, ACME_TOPOLOGY, db_url=db_url, partitions=4)
    raw = topics_for(config).raw
    first = histories(replay_events(ACME_TOPOLOGY, redis, tmp_path))
    async with running(config) as app:
        await produce_settled(app, config, redis)  # live: one alert at a time
        await wait_for(lambda: agrees_with_replay(config, first, db_url), 45, "first part")
    await produce(config.kafka.bootstrap, raw, payment)  # the worker is down: a backlog builds up
    want = histories(replay_events(ACME_TOPOLOGY, lines, tmp_path))
    async with running(config):
        _, seen = await wait_for(
            lambda: agrees_with_replay(config, want, db_url), 45, "stream history == replay"
        )
    print(
        f"backlog of {len(payment)} alerts after a restart: {len(want)} incidents as replay, {seen}"
    )
    report_backlog("backlog (while the worker is down)", len(payment), len(want), seen)
