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

import orjson

from correlator.core.incidents import StepResult
from correlator.core.stages import ImpactState
from correlator.core.timefmt import Millis, TimeFormatError, parse_time
from correlator.errors import CorrelatorError
from correlator.records import TOPIC_COMPONENT_HEALTH
from correlator.stream.assignment import assigned, skip_stale, stale
from correlator.stream.context import StageContext, log
from correlator.stream.kafka_io import committed_offset, latest_by_key, read_to_end, read_until
from correlator.stream.maintenance import read_windows, window_of
from correlator.stream.ordering import Held, OrderedInputs, done
from correlator.stream.topics import partition_for
from correlator.topology_files import parse_topology_text
from correlator.wire import (
    dumps,
    health_from_dict,
    impact_tick,
    loads,
    marks_from_dict,
    origin_from_hop,
    snapshot_from_dict,
    step_records,
)

Output = tuple[str, bytes | None, bytes | None, int | None]


RECOMPUTE_WALL = 0.0
"""Wall time while recomputing: every lease counts as fresh, as it was when first applied."""


class ImpactStage:
    """The impact state of this worker, rebuilt whenever it (re)gains `impact.input`."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.state: ImpactState | None = None
        self.last_input = time.monotonic()
        self.lag = 0.0
        self._lock = asyncio.Lock()
        self.busy = asyncio.Lock()
        """Held while a batch is applied and published: a revocation waits for it."""
        self.position = 0
        """The next `impact.input` offset to apply: the state is the log applied up to here."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.waiting: OrderedInputs[dict[str, Any]] = OrderedInputs(sources=ctx.config.partitions)
        ctx.waiting.append(self.waiting)

    def drop(self) -> None:
        self.state = None
        self.waiting.drop(0)

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
            config, topics = self.ctx.config, self.ctx.topics
            end = await committed_offset(config, config.app_id, topics.impact_input, 0)
            earliest, inputs = await read_until(config, topics.impact_input, 0, end)
            state = ImpactState(self.ctx.topology.topology, config.engine)
            self.position = max(end, earliest)
            if earliest == 0:
                self._recompute(state, [(v, ts) for v, ts in inputs if v is not None])
                state.clock.reanchor(time.monotonic())
                log.info("impact: rebuilt from %d input(s) of %s", end, topics.impact_input)
            else:
                await self._restore_published(state, inputs)
            self.state = state
        return self.state

    def _recompute(self, state: ImpactState, values: list[tuple[bytes, int]]) -> None:
        """Apply every input the stage had committed, exactly as it applied them, publishing
        nothing: the state is then the one it had at its committed offset, so the inputs after
        it produce the very records they produced before a crash (same id, same `seq`)."""
        for value, timestamp in values:
            self.take(state, loads(value), Held(None), timestamp / 1000, RECOMPUTE_WALL)
        # What still waits was released, before the crash, by a record after the committed
        # offset: it stays waiting, and that record (read again) releases it in the same order.

    async def _restore_published(self, state: ImpactState, inputs: list[Any]) -> None:
        """Retention deleted the oldest inputs: restore from the published incidents and the
        health the stage had applied (the compacted view, then what it committed since)."""
        config, topics = self.ctx.config, self.ctx.topics
        health: dict[str, Any] = {}
        for latest in latest_by_key(await read_to_end(config, topics.health)).values():
            record = health_from_dict(loads(latest))
            health[record.id] = record
        for value, _ in inputs:
            d = loads(value) if value is not None else {}
            if d.get("type") == "health":
                record = health_from_dict(d["health"])
                health[record.id] = record
        incidents = latest_by_key(await read_to_end(config, topics.incidents))
        snapshots = [snapshot_from_dict(loads(v)) for v in incidents.values()]
        for window in await read_windows(config):  # the inputs that declared them are gone
            state.tracker.maintenance.put(window)
        result = state.restore(snapshots, list(health.values()), time.monotonic())
        await self.ctx.send(self.outputs(result))
        log.info("impact: restored %d incident(s) from compacted topics", len(snapshots))

    def take(
        self, state: ImpactState, d: dict[str, Any], held: Held, logged: float, wall: float
    ) -> tuple[StepResult, list[tuple[Any, Held]]]:
        """One `impact.input` record: a progress mark is noted, anything else waits in
        event-time order (`waiting`); then what may be applied now is applied, each input one
        step at its own event time, exactly as `Engine` steps. Leases are judged by `logged`,
        the record's timestamp (seconds), so a recomputation releases exactly as it was."""
        if d.get("type") == "mark":
            source, raw, marks = marks_from_dict(d)
            self.waiting.mark(0, source, raw, marks, logged)
        else:
            origin = origin_from_hop(d.get("origin"))
            self.waiting.push(0, self._time_of(state, d), origin, d, held)
        released = self.waiting.release(0, logged)
        result = StepResult()
        for item, _ in released:
            result.extend(self._apply_one(state, item, wall))
        return result, released

    def _time_of(self, state: ImpactState, d: dict[str, Any]) -> Millis:
        """The event time an input is applied at; inputs without one (a topology version, a
        malformed time) take their place after what already waits."""
        try:
            if d.get("type") == "health":
                return parse_time(d["health"]["as_of"])
            if isinstance(d.get("at"), str):
                return parse_time(d["at"])
        except (KeyError, TypeError, TimeFormatError):
            pass
        return self.waiting.newest(0) or state.clock.now or 0

    def _apply_one(self, state: ImpactState, d: dict[str, Any], wall: float) -> StepResult:
        kind = d.get("type")
        if kind == "health":
            received = d.get("received_at")
            if isinstance(received, int):
                self.lag = max(0.0, time.time() - received / 1000)
            return state.on_health(health_from_dict(d["health"]), wall)
        if kind == "tick":
            return state.on_tick(parse_time(d["at"]), _tick_anchor(d.get("until"), wall))
        if kind == "heartbeat":
            return state.on_heartbeat(str(d["source"]), parse_time(d["at"]), wall)
        if kind == "ack":
            if not isinstance(d.get("incident"), str) or not isinstance(d.get("at"), str):
                log.warning("impact: ignoring a malformed acknowledgement: %r", d)
                return StepResult()
            by = str(d.get("by") or "unknown")
            return state.on_ack(d["incident"], by, parse_time(d["at"]), wall)
        if kind == "maintenance":
            window = window_of(orjson.dumps(d))
            at = d.get("at")
            return (
                StepResult()
                if window is None
                else state.on_maintenance(
                    window, parse_time(at) if isinstance(at, str) else None, wall
                )
            )
        if kind == "topology":
            try:
                topology = parse_topology_text(d["text"], f"topology {d.get('name')}")
            except CorrelatorError as exc:
                log.error("impact: topology version rejected: %s", exc)
                return StepResult()
            return state.on_topology(topology)
        log.warning("impact: ignoring an input of unknown type %r", kind)
        return StepResult()

    async def apply_batch(self, state: ImpactState, events: list[Any]) -> None:
        """Apply a batch of `impact.input` records in offset order, publish what they
        produced, then acknowledge them. Strictly the log, in order, once: a record fetched
        before the latest rebalance is left alone (it is delivered again), one already in the
        state is skipped, and records between the state's position and the first one
        delivered are read from the log. So the outputs are a function of the log, whichever
        worker applies it and however often it is rebuilt."""
        app = self.ctx.app
        wall = time.monotonic()
        started = time.perf_counter()
        result = StepResult()
        released: list[Any] = []
        held: list[Held] = []
        for event in events:
            if stale(app, event):
                skip_stale(event)
                continue
            offset = event.message.offset
            if offset < self.position:
                continue  # in the state already (applied, or recomputed at the rebuild)
            if offset > self.position:  # not delivered: read from the log (see `_fill`)
                step, out = await self._fill(state, offset, wall)
                result.extend(step)
                released.extend(out)
            self.position = offset + 1
            d = loads(event.value)
            h = Held(event)
            if d.get("type") != "mark":
                self.last_input = wall
                held.append(h)
            # Faust's message timestamp is in seconds already (aiokafka's, read from the log
            # by the rebuild and `_fill`, in milliseconds): dividing it again made every lease
            # here 1,000 times longer than in a recomputation.
            step, out = self.take(state, d, h, event.message.timestamp, wall)
            result.extend(step)
            released.extend(out)
        evaluated = time.perf_counter()
        await self.ctx.send(self.outputs(result))
        metrics = self.ctx.metrics
        metrics.impact_seconds.observe(evaluated - started)
        metrics.stage_seconds.labels("impact").observe(time.perf_counter() - started)
        done(released)
        for h in held:
            h.keep()
        self.ctx.count("impact.inputs", len(events))

    async def _fill(
        self, state: ImpactState, until: int, wall: float
    ) -> tuple[StepResult, list[tuple[Any, Held]]]:
        """Apply the records between the state's position and `until`, read from the log: a
        state rebuilt from an older committed offset than the one Faust resumed from (a
        commit landed in between). They were committed already, so nothing acknowledges them;
        applying them keeps the outputs a function of the log."""
        config, topic = self.ctx.config, self.ctx.topics.impact_input
        log.warning("impact: inputs %d..%d read from the log", self.position, until - 1)
        _, inputs = await read_until(config, topic, 0, until, start=self.position)
        result = StepResult()
        released: list[tuple[Any, Held]] = []
        for value, timestamp in inputs:
            if value is None:
                continue
            step, out = self.take(state, loads(value), Held(None), timestamp / 1000, wall)
            result.extend(step)
            released.extend(out)
        self.position = until
        return result, released

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


def _tick_anchor(until: Any, wall: float) -> float:
    """The monotonic time a tick's idle time ran up to (`until`, seconds since the epoch, as
    written by the tick timer), or `wall` for a tick without it or while recomputing."""
    if wall == RECOMPUTE_WALL or not isinstance(until, int | float):
        return wall
    return min(wall, time.monotonic() - (time.time() - float(until)))


def register(app: Any, ctx: StageContext) -> ImpactStage:
    config = ctx.config
    topics = ctx.topics
    topic = app.topic(
        topics.impact_input, partitions=1, key_serializer="raw", value_serializer="raw"
    )
    stage = ImpactStage(ctx)

    async def _revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        if any(tp.topic == topics.impact_input for tp in revoked):
            async with stage.busy:  # the batch in progress is published first
                stage.drop()

    app.on_partitions_revoked.connect(_revoked, weak=False)

    async def _assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        # Rebuild at once, not on the first input: a takeover must not wait for new alerts.
        if any(tp.topic == topics.impact_input for tp in assigned):
            async with stage.busy:
                stage.rebuild_soon()

    app.on_partitions_assigned.connect(_assigned, weak=False)

    decorate = app.agent(topic, name=f"{config.app_id}.impact", concurrency=1)

    @decorate  # type: ignore[untyped-decorator]
    async def impact(stream: Any) -> None:
        # Records are acknowledged only once applied and their outputs sent (at-least-once).
        async for events in stream.take_events(config.impact_batch, within=0.005):
            while True:
                state = await stage.ready()
                async with stage.busy:
                    if stage.state is state:  # else revoked meanwhile: rebuild first
                        await stage.apply_batch(state, events)
                        break

    decorate = app.timer(config.tick_interval, name=f"{config.app_id}.impact_tick")

    @decorate  # type: ignore[untyped-decorator]
    async def impact_tick_timer() -> None:
        if 0 not in assigned(app, topics.impact_input):
            return
        state = await stage.ready()
        wall = time.monotonic()
        if wall - stage.last_input < config.tick_interval * 0.9:
            return
        # Idle time counts only until the slowest health partition was last heard from (a
        # dead worker's partitions are silent while its caught-up marks are still a lease):
        # the tick must not run the clock past changes not read yet. It carries that moment,
        # and the clock re-anchors there, not at the tick's application.
        now = time.time()
        until = stage.waiting.idle_until(0, now)
        at = state.clock.idle_time(wall - (now - until))
        if at is not None:
            await ctx.send([(topics.impact_input, b"tick", impact_tick(at, until), 0)])

    return stage
