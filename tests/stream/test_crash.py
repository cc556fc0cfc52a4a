"""Crash safety against a real broker (DESIGN §2): `correlator worker` processes SIGKILLed in
the middle of a storm while alerts keep coming. The incident history on `incident.events` and
in the database must equal `correlator replay` of the same alerts — nothing lost, nothing
opened twice, per incident `seq` 1..n without gaps, the same id and `seq` always the same
record — and processing must resume within the session timeout.

`CORRELATOR_CRASH_ALERTS` (default 500) and `CORRELATOR_CRASH_RATE` (alerts/s, default 20)
make the storm longer for `make chaos`.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from equivalence import by_incident, db_events, histories, integrity, replay_events
from storm import T0, storm
from worker_harness import ACME_TOPOLOGY, records, wait_for
from worker_processes import HealthProbe, WorkerProcess, produce_paced

from correlator.broker import KafkaBroker
from correlator.core.timefmt import SECOND
from correlator.stream.app import prepare
from correlator.stream.config import WorkerConfig
from correlator.stream.topics import topics_for

pytestmark = pytest.mark.kafka

ALERTS = int(os.environ.get("CORRELATOR_CRASH_ALERTS", "500"))
RATE = float(os.environ.get("CORRELATOR_CRASH_RATE", "20"))
RECOVERY_GOAL = 15.0


async def compare(
    config: WorkerConfig, want: list[Any], db_url: str
) -> tuple[bool, dict[str, Any]]:
    events = await records(config, topics_for(config).events)
    stored = db_events(db_url)
    got = histories(events)
    checks = integrity(events)
    lost = sum(1 for h in want if h not in got)
    extra = sum(1 for h in got if h not in want)
    report = {
        "incidents": len(by_incident(events)),
        "replay incidents": len(want),
        "lost": lost,
        "extra": extra,
        **checks,
        "db == replay": histories(stored) == want,
    }
    dump = os.environ.get("CORRELATOR_CRASH_DUMP")
    if dump:
        Path(dump).write_text("\n".join(map(repr, got)) + "\n====\n" + "\n".join(map(repr, want)))
        raw = [orjson.dumps(e).decode() for e in events]
        Path(dump + ".events").write_text("\n".join(raw))
        inputs = await records(config, topics_for(config).impact_input)
        Path(dump + ".inputs").write_text("\n".join(orjson.dumps(e).decode() for e in inputs))
    ok = (
        got == want
        and histories(stored) == want
        and not any(v for k, v in checks.items() if k != "redelivered")
    )
    return ok, report


async def scenario(
    kafka_broker: KafkaBroker, tmp_path: Path, workers: int, restart: bool, kill: bool = True
) -> dict[str, Any]:
    lines = storm(ALERTS)
    want = histories(replay_events(ACME_TOPOLOGY, lines, tmp_path))
    prefix = f"crash{uuid.uuid4().hex[:6]}."
    db_url = f"sqlite:///{tmp_path / 'history.db'}"
    config = WorkerConfig(
        broker=kafka_broker.bootstrap,
        topic_prefix=prefix,
        topology_path=str(ACME_TOPOLOGY),
        partitions=4,
    )
    await prepare(config)  # topics exist before the probe and the producer use them
    topics = topics_for(config)

    def worker(i: int) -> WorkerProcess:
        return WorkerProcess(
            kafka_broker.bootstrap,
            prefix,
            ACME_TOPOLOGY,
            tmp_path / f"w{i}",
            db_url=db_url,
            instance_id=f"w{i}" if restart else None,
        )

    procs = [worker(i).start() for i in range(workers)]
    sent: list[float] = []
    try:
        async with HealthProbe(kafka_broker.bootstrap, topics.health) as probe:
            producing = asyncio.create_task(
                produce_paced(kafka_broker.bootstrap, topics.raw, lines, RATE, sent)
            )
            # Kill once the stream is processing and a third of the storm is out.
            await wait_for(
                lambda: _true(len(sent) >= ALERTS // 3 and probe.reached),
                120,
                "the workers never started processing",
            )
            killed_at = procs[0].kill() if kill else time.monotonic()
            if restart and kill:
                procs[0] = worker(0).start()
            after = next(i for i, t in enumerate([*sent, float("inf")]) if t > killed_at)
            await producing
            _, report = await wait_for(
                lambda: compare(config, want, db_url), 120, "stream history == replay", 1.0
            )
            resumed_wall = probe.when_reached(T0 + after * SECOND)
    finally:
        for p in procs:
            p.stop()
    resumed = None if resumed_wall is None else round(resumed_wall - killed_at, 1)
    report["recovery s"] = resumed
    report["alerts"] = ALERTS
    return report


async def _true(value: Any) -> bool:
    return bool(value)


async def test_sigkill_mid_storm_and_restart_equals_replay(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    report = await scenario(kafka_broker, tmp_path, workers=1, restart=True)
    print(f"\nSIGKILL + restart (static membership), 1 worker: {report}")
    assert report["lost"] == report["extra"] == 0
    assert report["recovery s"] is not None and report["recovery s"] <= RECOVERY_GOAL


@pytest.mark.parametrize("workers", [2, 3])
async def test_sigkill_one_of_several_workers_equals_replay(
    kafka_broker: KafkaBroker, tmp_path: Path, workers: int
) -> None:
    report = await scenario(kafka_broker, tmp_path, workers=workers, restart=False)
    print(f"\nSIGKILL 1 of {workers} workers, partitions move: {report}")
    assert report["lost"] == report["extra"] == 0
    assert report["recovery s"] is not None and report["recovery s"] <= RECOVERY_GOAL


async def test_debug_no_kill(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    report = await scenario(kafka_broker, tmp_path, workers=1, restart=False, kill=False)
    print(report)
