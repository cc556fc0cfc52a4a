"""Health: per component, `HealthBook` from the core (DESIGN §2, §4).

Consumes `alert.transitions` (batches, partitioned by component) with one Faust agent. Active
alerts per component live in the `component_alerts` table (written on transitions only). Every
change of a component's health, counts or newest alerts goes to `impact.input`, in order: nothing
is folded by arrival time, so an outage that fired and resolved inside a backlog still reaches
the impact stage as two changes (DESIGN §2). The newest record of a batch per component goes to
`component.health` (compacted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from correlator.core.stages import HealthOutput, HealthPartition, Origin, TransitionIn
from correlator.stream.assignment import (
    apply_in_turn,
    assigned,
    drop_partition,
    on_revoked,
    recovered,
)
from correlator.stream.context import StageContext
from correlator.stream.ordering import Held, OrderedInputs, finish
from correlator.stream.positions import InputPositions
from correlator.stream.tables import component_alerts_table
from correlator.stream.topics import partition_for
from correlator.wire import (
    alert_from_hop,
    component_alert_from_bytes,
    component_alert_value,
    dumps,
    health_to_dict,
    impact_health,
    loads,
    marks_from_dict,
    marks_value,
    origin_from_hop,
)

Output = tuple[str, bytes | None, bytes | None, int | None]
_SEP = "\x1f"
REBUILD_EVERY = 0.25
"""Seconds between looks for a gained partition to rebuild."""

log = logging.getLogger(__name__)


def register(app: Any, ctx: StageContext) -> None:
    config = ctx.config
    topics = ctx.topics
    n = config.partitions
    topic = app.topic(
        topics.transitions, partitions=n, key_serializer="raw", value_serializer="raw"
    )
    table = component_alerts_table(app, config)
    parts: dict[int, HealthPartition] = {}
    waiting: OrderedInputs[tuple[TransitionIn, Origin | None]] = OrderedInputs(sources=n)
    ctx.waiting.append(waiting)

    positions = InputPositions(app, config, topics.transitions)

    def drop(partition: int) -> None:
        drop_partition(parts, partition)
        waiting.drop(partition)
        positions.drop(partition)

    busy = asyncio.Lock()  # one event (or rebuild) at a time; a revocation waits for it
    on_revoked(app, topics.transitions, drop, busy)

    def publish(out: HealthOutput) -> list[Output]:
        origins = out.origins or [None] * len(out.records)
        records: list[Output] = [
            (topics.impact_input, record.id.encode(), impact_health(record, received, origin), 0)
            for record, received, origin in zip(out.records, out.received_at, origins, strict=True)
        ]
        records.extend(
            (topics.health, c.encode(), dumps(health_to_dict(r)), partition_for(c, n))
            for c, r in out.latest().items()
        )
        return records

    def rebuild(partition: int) -> list[Output]:
        entries = []
        for key, value in list(table.items()):
            if value is None:
                continue
            component, fp = key.decode().split(_SEP, 1)
            if partition_for(component, n) == partition:
                alert, at = component_alert_from_bytes(value)
                entries.append((component, fp, alert, at))
        part, out = HealthPartition.restored(entries)
        parts[partition] = part
        return publish(out)

    decorate = app.agent(topic, name=f"{config.app_id}.health", concurrency=1)

    def forward(partition: int, wall: float) -> list[Output]:
        marks = waiting.to_forward(partition, wall)
        if marks is None:
            return []
        value = marks_value(partition, marks, waiting.raw(partition), "mark")
        return [(topics.impact_input, None, value, 0)]

    @decorate  # type: ignore[untyped-decorator]
    async def health(stream: Any) -> None:
        # Transitions wait in `waiting` until every alert-state partition has passed their
        # event time, then are applied in that order; see `ordering`. One event at a time, as
        # in the alert-state stage.
        await apply_in_turn(app, stream, busy, positions, apply_event)

    async def apply_event(event: Any) -> None:
        started = time.perf_counter()
        wall = time.monotonic()
        partition = event.message.partition
        records: list[Output] = []
        if partition not in parts:
            records.extend(rebuild(partition))
        ctx.count("health.events")
        d = loads(event.value)
        held = Held(event)
        if "marks" in d:
            source, raw, marks = marks_from_dict(d)
            waiting.mark(partition, source, raw, marks, wall)
        else:
            for t in d["transitions"]:
                alert = alert_from_hop(t["alert"])
                item = TransitionIn(t["component"], t["fingerprint"], t["active"], alert, t["at"])
                origin = origin_from_hop(t.get("org"))
                waiting.push(partition, item.at, origin, (item, origin), held)
        released = waiting.release(partition, wall)
        out = HealthOutput()
        for (item, origin), _ in released:
            one = parts[partition].apply([item])
            one.origins = [origin] * len(one.records)
            out.extend(one)
        records.extend(publish(out))
        records.extend(forward(partition, wall))

        def write_table() -> None:
            for component, fp, written, at in out.writes:
                table[f"{component}{_SEP}{fp}".encode()] = component_alert_value(written, at)

        await finish(ctx, records, released, held, write_table if out.writes else None)
        ctx.metrics.stage_seconds.labels("health").observe(time.perf_counter() - started)

    # A partition gained in a rebalance is rebuilt (and its health published again) at once,
    # not when its first new input arrives. A sleeping loop, not a fixed-rate timer: Faust's
    # timer counts the time the event loop was busy elsewhere as the timer's own runtime, and
    # warns "Timer … is overlapping" whenever another stage held the loop for 0.25 s.
    async def rebuild_gained() -> None:
        # Nothing to rebuild (nearly always): return at once, not after the agent's batch.
        if not recovered(app) or not assigned(app, topics.transitions) - parts.keys():
            return
        async with busy:
            if not recovered(app):
                return
            records: list[Output] = []
            for partition in assigned(app, topics.transitions) - parts.keys():
                records.extend(rebuild(partition))
            await ctx.send(records)

    @app.task  # type: ignore[untyped-decorator]
    async def health_rebuild() -> None:
        while True:
            await asyncio.sleep(REBUILD_EVERY)
            try:
                await rebuild_gained()
            except Exception:  # the broker is away, say: the next round tries again
                log.exception("health: rebuilding a gained partition failed")
