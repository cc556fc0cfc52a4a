"""Alert state: per fingerprint, `AlertBook` from the core (DESIGN §2, §4).

Consumes `alerts.keyed` (batches of canonical alerts, partitioned by fingerprint) with one Faust
agent. Repeats of an active alert change nothing and write nothing; changes are written to the
`alert_state` table (its compacted changelog is the state that survives restarts), transitions go
to `alert.transitions` (one record per destination partition per batch), unmapped alerts to
`alerts.unmapped`, heartbeats to `impact.input`. An idle timer expires alerts whose `ends_at`
passed without new input.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from correlator.core.alert_rules import apply_alert_rules
from correlator.core.alerts import Alert
from correlator.core.stages import AlertPartition, AlertStateOutput, Origin
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
from correlator.stream.tables import alert_state_table
from correlator.stream.topics import partition_for
from correlator.wire import (
    alert_from_hop,
    dumps,
    impact_heartbeat,
    loads,
    marks_from_dict,
    marks_value,
    origin_from_hop,
    tracked_from_bytes,
    tracked_to_bytes,
    transition_to_hop,
    transitions_value,
    unmapped_to_dict,
)

Output = tuple[str, bytes | None, bytes | None, int | None]


def outputs(ctx: StageContext, out: AlertStateOutput, partitions: int) -> list[Output]:
    """The records one batch's outcome publishes."""
    topics = ctx.topics
    by_partition: dict[int, list[dict[str, Any]]] = {}
    for (t, at), origin in zip(out.transitions, out.origins(), strict=True):
        by_partition.setdefault(partition_for(t.component, partitions), []).append(
            transition_to_hop(t, at, origin)
        )
    records: list[Output] = [
        (topics.transitions, None, transitions_value(items), p) for p, items in by_partition.items()
    ]
    records.extend(
        (topics.unmapped, u.alert.fingerprint.encode(), dumps(unmapped_to_dict(u)), None)
        for u in out.unmapped
    )
    records.extend(
        (topics.impact_input, source.encode(), impact_heartbeat(source, at, origin), 0)
        for (source, at), origin in zip(out.heartbeats, out.heartbeat_origins(), strict=True)
    )
    return records


def register(app: Any, ctx: StageContext) -> None:
    config = ctx.config
    n = config.partitions
    topic = app.topic(ctx.topics.keyed, partitions=n, key_serializer="raw", value_serializer="raw")
    table = alert_state_table(app, config)
    parts: dict[int, AlertPartition] = {}
    waiting: OrderedInputs[tuple[Alert, Origin | None]] = OrderedInputs(sources=1)
    ctx.waiting.append(waiting)

    positions = InputPositions(app, config, ctx.topics.keyed)

    def drop(partition: int) -> None:
        drop_partition(parts, partition)
        waiting.drop(partition)
        positions.drop(partition)

    busy = asyncio.Lock()  # one event (or tick) at a time; a revocation waits for it
    on_revoked(app, ctx.topics.keyed, drop, busy)

    def rebuild(partition: int) -> AlertStateOutput:
        entries = [
            tracked_from_bytes(key.decode(), value)
            for key, value in list(table.items())
            if value is not None and partition_for(key.decode(), n) == partition
        ]
        part, out = AlertPartition.restored(entries, config.engine, time.monotonic())
        parts[partition] = part
        return out

    decorate = app.agent(topic, name=f"{config.app_id}.alert_state", concurrency=1)

    def forward(partition: int, wall: float) -> list[Output]:
        marks = waiting.to_forward(partition, wall)
        if marks is None:
            return []
        value = marks_value(partition, marks, waiting.raw(partition))
        return [(ctx.topics.transitions, None, value, p) for p in range(n)]

    @decorate  # type: ignore[untyped-decorator]
    async def alert_state(stream: Any) -> None:
        # Alerts wait in `waiting` until every raw partition has been read past their event
        # time, then are applied in that order (a backlog as if live); see `ordering`. One
        # event at a time: tables are written in the context of the current event, and what
        # is released belongs to its partition.
        await apply_in_turn(app, stream, busy, positions, apply_event)

    async def apply_event(event: Any) -> None:
        started = time.perf_counter()
        wall = time.monotonic()
        partition = event.message.partition
        records: list[Output] = []
        if partition not in parts:
            records.extend(outputs(ctx, rebuild(partition), n))
        d = loads(event.value)
        held = Held(event)
        if "marks" in d:
            source, raw, marks = marks_from_dict(d)
            waiting.mark(partition, source, raw, marks, wall)
        else:
            for item in d["alerts"]:
                alert = apply_alert_rules(alert_from_hop(item), ctx.topology.topology.alert_rules)
                origin = origin_from_hop(item.get("org"))
                waiting.push(partition, alert.event_time, origin, (alert, origin), held)
            ctx.count("alert_state.alerts", held.waiting)
            ctx.count("alert_state.events")
        released = waiting.release(partition, wall)
        part = parts[partition]
        out = AlertStateOutput()
        for (alert, origin), _ in released:
            one = part.apply([alert], ctx.topology.resolver, wall)
            one.origin(origin)
            out.extend(one)
        records.extend(outputs(ctx, out, n))
        records.extend(forward(partition, wall))

        def write_table() -> None:
            for fp in out.changed:
                state = part.state_of(fp)
                if state is not None:
                    table[fp.encode()] = tracked_to_bytes(state)

        await finish(ctx, records, released, held, write_table if out.changed else None)
        if out.unmapped:
            ctx.metrics.unmapped.inc(len(out.unmapped))
        ctx.metrics.stage_seconds.labels("alert_state").observe(time.perf_counter() - started)

    decorate = app.timer(config.tick_interval, name=f"{config.app_id}.alert_state_tick")

    @decorate  # type: ignore[untyped-decorator]
    async def alert_state_tick() -> None:
        # Expiry of `ends_at` without new alerts, when nothing waits upstream (an idle tick must
        # never run the clock past a backlog). Expired alerts are not written to the table here
        # (tables change only inside an agent): after a restart they are restored active with a
        # deadline already past, and expire again at once.
        async with busy:
            wall = time.monotonic()
            records: list[Output] = []
            if recovered(app):
                for partition in assigned(app, ctx.topics.keyed) - parts.keys():
                    records.extend(outputs(ctx, rebuild(partition), n))
            for partition, part in list(parts.items()):
                if waiting.caught_up(partition, wall):
                    idle = waiting.idle_until(partition, wall)
                    records.extend(outputs(ctx, part.tick(idle), n))
            await ctx.send(records)
