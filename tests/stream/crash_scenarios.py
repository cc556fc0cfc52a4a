"""Crash scenarios against a real broker: `correlator worker` processes SIGKILLed in the middle
of a storm while alerts keep coming, compared with `correlator replay` of the same alerts.

Used by `tests/stream/test_crash.py` and runnable on its own (for `make chaos`):

    python tests/stream/crash_scenarios.py --workers 1 --restart     # kill, restart same id
    python tests/stream/crash_scenarios.py --workers 3               # kill 1 of 3, no restart
    [--alerts 2000 --rate 50 --broker HOST:PORT]

It prints what it checked (lost, extra, seq gaps, incidents opened twice, records with the
same id and seq differing, the history database, time to recover) and exits 1 when the stream's
history differs from replay's. `CORRELATOR_CRASH_ALERTS` / `CORRELATOR_CRASH_RATE` set the
defaults; `CORRELATOR_CRASH_DUMP=path` writes both histories and every hop's records there at
the end (`dump_run`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from equivalence import by_incident, db_events, histories, integrity, replay_events
from storm import T0, storm
from worker_harness import ACME_TOPOLOGY, records, wait_for
from worker_processes import HealthProbe, WorkerProcess, produce_paced

from correlator.broker import KafkaBroker
from correlator.core.timefmt import SECOND
from correlator.kafka_connection import KafkaConnection
from correlator.stream.app import prepare
from correlator.stream.config import WorkerConfig
from correlator.stream.topics import topics_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chaos"))
from chaos_report import FULL, report  # tests/chaos is not a package

__all__ = ["FULL", "report_backlog", "report_chaos", "scenario"]

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
    ok = (
        got == want
        and histories(stored) == want
        and not any(v for k, v in checks.items() if k != "redelivered")
    )
    return ok, report


async def scenario(
    kafka_broker: KafkaBroker,
    tmp_path: Path,
    workers: int,
    restart: bool,
    kill: bool = True,
    alerts: int = ALERTS,
    rate: float = RATE,
) -> dict[str, Any]:
    """Start `workers` workers, produce a storm at `rate`, SIGKILL the first one a third of
    the way in (and start it again with the same instance id when `restart`), wait until the
    history equals replay's (or 120 s), and report."""
    lines = storm(alerts)
    want = histories(replay_events(ACME_TOPOLOGY, lines, tmp_path))
    prefix = f"crash{uuid.uuid4().hex[:6]}."
    db_url = f"sqlite:///{tmp_path / 'history.db'}"
    config = WorkerConfig(
        kafka=KafkaConnection(kafka_broker.bootstrap),
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
                produce_paced(kafka_broker.bootstrap, topics.raw, lines, rate, sent)
            )
            # Kill once the stream is processing and a third of the storm is out.
            await wait_for(
                lambda: _true(len(sent) >= alerts // 3 and probe.reached),
                120,
                "the workers never started processing",
            )
            killed_at = procs[0].kill() if kill else time.monotonic()
            if restart and kill:
                procs[0] = worker(0).start()
            after = next(i for i, t in enumerate([*sent, float("inf")]) if t > killed_at)
            await producing
            try:
                _, report = await wait_for(
                    lambda: compare(config, want, db_url), 120, "history", 1.0
                )
            except AssertionError:
                _, report = await compare(config, want, db_url)
            resumed_wall = probe.when_reached(T0 + after * SECOND)
            dump = os.environ.get("CORRELATOR_CRASH_DUMP")
            if dump:
                await dump_run(config, want, Path(dump))
    finally:
        for p in procs:
            p.stop()
    resumed = None if resumed_wall is None else round(resumed_wall - killed_at, 1)
    report["recovery s"] = resumed
    report["alerts"] = alerts
    report["equal"] = report["lost"] == report["extra"] == 0 and report["db == replay"]
    return report


async def dump_run(config: WorkerConfig, want: list[Any], dump: Path) -> None:
    """For finding what diverged (CORRELATOR_CRASH_DUMP=path): both histories (`path`), the
    events and `impact.input` as JSON lines, and every record of the hops and the health table's
    changelog as `partition offset timestamp value` lines (`path.keyed`, `.transitions`,
    `.raw`, `.changelog`)."""
    topics = topics_for(config)
    events = await records(config, topics.events)
    got = "\n".join(map(repr, histories(events)))
    dump.write_text(got + "\n====\n" + "\n".join(map(repr, want)))
    dump.with_name(dump.name + ".events").write_text(
        "\n".join(orjson.dumps(e).decode() for e in events)
    )
    inputs = await records(config, topics.impact_input)
    dump.with_name(dump.name + ".inputs").write_text(
        "\n".join(orjson.dumps(e).decode() for e in inputs)
    )
    from aiokafka import AIOKafkaConsumer, TopicPartition

    hops = {
        "keyed": topics.keyed,
        "transitions": topics.transitions,
        "raw": topics.raw,
        "changelog": topics.changelog("component_alerts"),
    }
    for name, topic in hops.items():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=config.kafka.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(config.partitions)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            lines = []
            for tp in tps:
                while await consumer.position(tp) < ends[tp]:
                    batch = await consumer.getmany(tp, timeout_ms=500)
                    for m in batch.get(tp, []):
                        value = (m.value or b"").decode(errors="replace")
                        lines.append(f"{tp.partition} {m.offset} {m.timestamp} {value}")
        finally:
            await consumer.stop()
        dump.with_name(f"{dump.name}.{name}").write_text("\n".join(lines))


def report_chaos(name: str, figures: dict[str, Any]) -> None:
    """Print one scenario's figures (and hand them to `make chaos`, `chaos_report`)."""
    report(
        name,
        alerts=figures["alerts"],
        incidents=f"{figures['incidents']}/{figures['replay incidents']}",
        lost=figures["lost"],
        extra=figures["extra"],
        equal_to_replay=figures["equal"],
        seq_gaps=figures["seq gaps"],
        opened_twice=figures["opened != 1"],
        repeats=figures["redelivered"],
        repeats_differing=figures["same id+seq differing"],
        recovery_s=figures["recovery s"],
    )


def report_backlog(name: str, alerts: int, incidents: int, seen: dict[str, Any]) -> None:
    """One backlog scenario's figures for `make chaos` (it passed: the history equals replay)."""
    report(
        name,
        alerts=alerts,
        incidents=incidents,
        lost=0,
        extra=0,
        equal_to_replay=True,
        events=seen["events"],
        stored=seen["stored"],
        repeats=seen["redelivered"],
    )


async def _true(value: Any) -> bool:
    return bool(value)


def main() -> int:
    import argparse
    import json
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--restart", action="store_true", help="restart the killed worker")
    parser.add_argument("--alerts", type=int, default=ALERTS)
    parser.add_argument("--rate", type=float, default=RATE)
    parser.add_argument("--broker", help="use this broker instead of starting one")
    args = parser.parse_args()

    class Given:
        bootstrap = args.broker

    broker: Any = Given() if args.broker else KafkaBroker()
    if not args.broker:
        broker.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report = asyncio.run(
                scenario(
                    broker, Path(tmp), args.workers, args.restart, True, args.alerts, args.rate
                )
            )
    finally:
        if not args.broker:
            broker.stop()
    print(json.dumps(report))
    return 0 if report["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
