"""Impact: ONE instance on the single-partition `impact.input` drives `IncidentTracker`.

Its whole input is that log: health records, heartbeats, topology versions, acknowledgements
and idle clock ticks, in order — so its output is a function of the log. It publishes
`incidents`, `incident.events`, `service.impact` and `impact.summary` (via `correlator.wire`) and
waits for the broker's acknowledgements before Faust may commit the input offset.

On start it rebuilds from the compacted `component.health` and `incidents` topics, continuing
every incident's `seq`, and publishes only what differs. The worker that holds the partition
writes a tick to `impact.input` whenever the stage has been idle for a tick interval.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from correlator.core.incidents import StepResult
from correlator.core.stages import ImpactState
from correlator.core.timefmt import parse_time
from correlator.errors import CorrelatorError
from correlator.records import TOPIC_COMPONENT_HEALTH
from correlator.stream.assignment import assigned
from correlator.stream.codec import (
    dumps,
    impact_tick,
    loads,
    partition_for,
    snapshot_from_dict,
)
from correlator.stream.context import StageContext, log
from correlator.stream.kafka_io import committed_offset, latest_by_key, read_to_end, read_until
from correlator.topology_files import parse_topology_text
from correlator.wire import health_from_dict, step_records

Output = tuple[str, bytes | None, bytes | None, int | None]


class ImpactStage:
    """The impact state of this worker, rebuilt whenever it (re)gains `impact.input`."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.state: ImpactState | None = None
        self.last_input = time.monotonic()
        self.lag = 0.0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def drop(self) -> None:
        self.state = None

    def rebuild_soon(self) -> None:
        """Rebuild in the background (the rebalance callback must not wait for it)."""
        self.drop()
        task = asyncio.ensure_future(self._rebuild_logged())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _rebuild_logged(self) -> None:
        try:
            await self.ready()
        except Exception as exc:  # the agent and the tick timer try again
            log.warning("impact: eager rebuild failed, retried on the next input: %s", exc)

    async def ready(self) -> ImpactState:
        async with self._lock:
            return await self._ready()

    async def _ready(self) -> ImpactState:
        if self.state is None:
            state = ImpactState(self.ctx.topology.topology, self.ctx.config.engine)
            health, snapshots = await self._read_published()
            result = state.restore(snapshots, health, time.monotonic())
            self.state = state
            await self.ctx.send(self.outputs(result))
            log.info(
                "impact: rebuilt %d incident(s) and %d component(s) from compacted topics",
                len(snapshots),
                len(health),
            )
        return self.state

    async def _read_published(self) -> tuple[list[Any], list[Any]]:
        """The health the stage had applied when it last committed (not the newest on
        `component.health`: the health stage may be far ahead, and jumping there would fold
        whole outages away), and the incidents it published."""
        config, topics = self.ctx.config, self.ctx.topics
        end = await committed_offset(config, config.app_id, topics.impact_input, 0)
        earliest, inputs = await read_until(config, topics.impact_input, 0, end)
        health: dict[str, Any] = {}
        if earliest > 0:  # retention deleted the oldest inputs: start from the compacted view
            for latest in latest_by_key(await read_to_end(config, topics.health)).values():
                record = health_from_dict(loads(latest))
                health[record.id] = record
        for _, value in inputs:
            d = loads(value) if value is not None else {}
            if d.get("type") == "health":
                record = health_from_dict(d["health"])
                health[record.id] = record
        incidents = latest_by_key(await read_to_end(config, topics.incidents))
        return list(health.values()), [snapshot_from_dict(loads(v)) for v in incidents.values()]

    def apply(self, state: ImpactState, values: list[bytes]) -> StepResult:
        """A batch of `impact.input` records, in order, each one its own step at its own event
        time, exactly as `Engine` steps: a batch never folds changes of different times."""
        wall = time.monotonic()
        self.last_input = wall
        result = StepResult()
        for value in values:
            result.extend(self._apply_one(state, loads(value), wall))
        return result

    def _apply_one(self, state: ImpactState, d: dict[str, Any], wall: float) -> StepResult:
        kind = d.get("type")
        if kind == "health":
            received = d.get("received_at")
            if isinstance(received, int):
                self.lag = max(0.0, time.time() - received / 1000)
            return state.on_health(health_from_dict(d["health"]), wall)
        if kind == "tick":
            return state.on_tick(parse_time(d["at"]), wall)
        if kind == "heartbeat":
            return state.on_heartbeat(str(d["source"]), parse_time(d["at"]), wall)
        if kind == "ack":
            if not isinstance(d.get("incident"), str) or not isinstance(d.get("at"), str):
                log.warning("impact: ignoring a malformed acknowledgement: %r", d)
                return StepResult()
            by = str(d.get("by") or "unknown")
            return state.on_ack(d["incident"], by, parse_time(d["at"]), wall)
        if kind == "topology":
            try:
                topology = parse_topology_text(d["text"], f"topology {d.get('name')}")
            except CorrelatorError as exc:
                log.error("impact: topology version rejected: %s", exc)
                return StepResult()
            return state.on_topology(topology)
        log.warning("impact: ignoring an input of unknown type %r", kind)
        return StepResult()

    def outputs(self, result: StepResult) -> list[Output]:
        topics = self.ctx.topics
        out: list[Output] = []
        for record in step_records(result, self.lag):
            value = None if record.value is None else dumps(record.value)
            partition = 0
            if record.topic == TOPIC_COMPONENT_HEALTH:
                partition = partition_for(record.key, self.ctx.config.partitions)
            out.append((topics.name(record.topic), record.key.encode(), value, partition))
        return out


def register(app: Any, ctx: StageContext) -> ImpactStage:
    config = ctx.config
    topics = ctx.topics
    topic = app.topic(
        topics.impact_input, partitions=1, key_serializer="raw", value_serializer="raw"
    )
    stage = ImpactStage(ctx)

    async def _revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        if any(tp.topic == topics.impact_input for tp in revoked):
            stage.drop()

    app.on_partitions_revoked.connect(_revoked, weak=False)

    async def _assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        # Rebuild at once, not on the first input: a takeover must not wait for new alerts.
        if any(tp.topic == topics.impact_input for tp in assigned):
            stage.rebuild_soon()

    app.on_partitions_assigned.connect(_assigned, weak=False)

    decorate = app.agent(topic, name=f"{config.app_id}.impact", concurrency=1)

    @decorate  # type: ignore[untyped-decorator]
    async def impact(stream: Any) -> None:
        # `take` acks the batch only after this body has sent its outputs (at-least-once).
        async for values in stream.take(config.impact_batch, within=0.005):
            state = await stage.ready()
            result = stage.apply(state, list(values))
            await ctx.send(stage.outputs(result))
            ctx.count("impact.inputs", len(values))

    decorate = app.timer(config.tick_interval, name=f"{config.app_id}.impact_tick")

    @decorate  # type: ignore[untyped-decorator]
    async def impact_tick_timer() -> None:
        if 0 not in assigned(app, topics.impact_input):
            return
        state = await stage.ready()
        wall = time.monotonic()
        if wall - stage.last_input < config.tick_interval * 0.9:
            return
        at = state.clock.idle_time(wall)
        if at is not None:
            await ctx.send([(topics.impact_input, b"tick", impact_tick(at), 0)])

    return stage
