"""The per-partition states of the pipeline's stages: alert state, health, impact (DESIGN §2).

Each is a plain class with the state one stage keeps for one partition and one `apply`-style
method per kind of input. The stream wraps them in Faust agents (one instance per partition);
`Engine` chains one of each for `correlator replay` and the tests. There is no other glue around
the core, so replay and the stream cannot drift apart.

Pure like the rest of the core: time is passed in. Wall time appears only as an argument
(`IdleClock`), for the stream's idle ticks.
"""

from __future__ import annotations

import fnmatch
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from correlator.core.alert_state import AlertBook, AlertTransition, Resolver, TrackedAlert
from correlator.core.alerts import Alert
from correlator.core.health import ComponentHealth, HealthBook
from correlator.core.heartbeats import Heartbeats
from correlator.core.incidents import IncidentSettings, IncidentTracker, StepResult, UnmappedAlert
from correlator.core.maintenance import MaintenanceWindow
from correlator.core.matching import Matcher
from correlator.core.snapshot import IncidentSnapshot
from correlator.core.timefmt import MINUTE, Millis
from correlator.core.topology import Topology

HEARTBEAT_ALERTNAME = "Watchdog"


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Correlation tunables plus heartbeat handling."""

    incidents: IncidentSettings = field(default_factory=IncidentSettings)
    heartbeat_selectors: tuple[Mapping[str, str], ...] = ()
    heartbeat_stale_after: Millis = 5 * MINUTE


def matcher_resolver(topology: Topology) -> Resolver:
    """The default label → component resolution of DESIGN §3."""
    matcher = Matcher(topology)

    def resolve(labels: Mapping[str, str]) -> tuple[str | None, tuple[tuple[str, str], ...]]:
        result = matcher.match(labels)
        return result.component, result.tried

    return resolve


def is_heartbeat(alert: Alert, selectors: Iterable[Mapping[str, str]] = ()) -> bool:
    """`Watchdog` (the kube-prometheus always-firing alert), an alert a `heartbeat: true` alert
    rule marked, or a configured heartbeat selector."""
    if alert.heartbeat or alert.name == HEARTBEAT_ALERTNAME:
        return True
    labels = alert.labels
    return any(
        all(fnmatch.fnmatchcase(labels.get(k, ""), v) for k, v in selector.items())
        for selector in selectors
    )


def heartbeat_source(alert: Alert) -> str:
    """Which source a heartbeat vouches for."""
    labels = alert.labels
    return labels.get("prometheus") or labels.get("cluster") or alert.source


class IdleClock:
    """The event-time clock of one stage: the maximum event time seen, and when it last moved.

    An idle stage advances it by the wall time elapsed since then (`idle_time`), so deadlines fire
    without new alerts whether the alerts are live or replayed from the past. Wall time is an
    argument (seconds, any monotonic origin); replay passes 0.
    """

    def __init__(self) -> None:
        self.now: Millis | None = None
        self._anchor = 0.0

    def observe(self, t: Millis, wall: float) -> Millis:
        if self.now is None or t > self.now:
            self.now = t
            self._anchor = wall
        return self.now

    def reanchor(self, wall: float) -> None:
        """Count idle time from `wall` on (after a rebuild that ran without a wall clock)."""
        self._anchor = wall

    def idle_time(self, wall: float) -> Millis | None:
        if self.now is None:
            return None
        return self.now + max(0, int((wall - self._anchor) * 1000))


# -- alert state (keyed by fingerprint) ----------------------------------------------------------


@dataclass(slots=True)
class AlertStateOutput:
    """What one batch of alerts did in one partition, in order."""

    transitions: list[tuple[AlertTransition, Millis]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    """Fingerprints whose persisted state changed (written to the table; repeats are not)."""
    unmapped: list[UnmappedAlert] = field(default_factory=list)
    heartbeats: list[tuple[str, Millis]] = field(default_factory=list)
    mapped_count: int = 0
    unmapped_count: int = 0
    """Alerts whose labels match no component (an unknown resolve included)."""
    heartbeat_count: int = 0
    transition_origin: list[Origin | None] = field(default_factory=list)
    heartbeat_origin: list[Origin | None] = field(default_factory=list)

    def origin(self, origin: Origin | None) -> None:
        """Every output so far came from the input at `origin` (the stream orders by it)."""
        self.transition_origin = [origin] * len(self.transitions)
        self.heartbeat_origin = [origin] * len(self.heartbeats)

    def origins(self) -> list[Origin | None]:
        """Per transition, the raw record behind it (None: a restore or an idle expiry)."""
        pad = len(self.transitions) - len(self.transition_origin)
        return self.transition_origin + [None] * pad

    def heartbeat_origins(self) -> list[Origin | None]:
        pad = len(self.heartbeats) - len(self.heartbeat_origin)
        return self.heartbeat_origin + [None] * pad

    def extend(self, other: AlertStateOutput) -> None:
        self.transition_origin = self.origins() + other.origins()
        self.heartbeat_origin = self.heartbeat_origins() + other.heartbeat_origins()
        self.transitions.extend(other.transitions)
        self.changed.extend(other.changed)
        self.unmapped.extend(other.unmapped)
        self.heartbeats.extend(other.heartbeats)
        self.mapped_count += other.mapped_count
        self.unmapped_count += other.unmapped_count
        self.heartbeat_count += other.heartbeat_count


class AlertPartition:
    """One partition's `AlertBook`, its clock, and what it has reported."""

    def __init__(self, book: AlertBook, settings: EngineSettings) -> None:
        self.book = book
        self.settings = settings
        self.clock = IdleClock()
        self._reported_unmapped: set[str] = set()
        self._heartbeat_sent: dict[str, Millis] = {}

    @classmethod
    def restored(
        cls, entries: Iterable[TrackedAlert], settings: EngineSettings, wall: float
    ) -> tuple[AlertPartition, AlertStateOutput]:
        """Rebuild from the table. Nothing is announced again: the stream sends a transition
        before it writes the table, and commits the input only after both, so a crash between
        them leaves the input to be applied again (and the transition sent again)."""
        items = list(entries)
        part = cls(AlertBook.restore(items), settings)
        out = AlertStateOutput()
        if items:
            now = part.clock.observe(max(e.last_change for e in items), wall)
            part._expire(now, out)
        return part, out

    def apply(self, alerts: Iterable[Alert], resolve: Resolver, wall: float) -> AlertStateOutput:
        """Apply canonical alerts in order, each at the partition's clock."""
        out = AlertStateOutput()
        for alert in alerts:
            now = self.clock.observe(alert.event_time, wall)
            if is_heartbeat(alert, self.settings.heartbeat_selectors):
                out.heartbeat_count += 1
                self._heartbeat(alert, out)
                self._expire(now, out)
                continue
            outcome = self.book.apply(alert, resolve, now)
            fp = alert.fingerprint
            if outcome.kind == "unmapped":  # a resolve never seen firing counts by its labels
                out.unmapped_count += 1
            else:
                out.mapped_count += 1
            if outcome.kind == "unmapped" and fp not in self._reported_unmapped:
                self._reported_unmapped.add(fp)
                out.unmapped.append(UnmappedAlert(alert, outcome.tried))
            if alert.status == "resolved":
                self._reported_unmapped.discard(fp)
            if outcome.transition is not None:
                out.transitions.append((outcome.transition, now))
                out.changed.append(fp)
            self._expire(now, out)
        return out

    def advance(self, t: Millis, wall: float) -> AlertStateOutput:
        """Move the clock to event time `t` (if later) and expire alerts whose `ends_at` passed."""
        out = AlertStateOutput()
        self._expire(self.clock.observe(t, wall), out)
        return out

    def tick(self, wall: float) -> AlertStateOutput:
        """Idle: advance the clock by wall time and expire alerts whose `ends_at` passed."""
        t = self.clock.idle_time(wall)
        return AlertStateOutput() if t is None else self.advance(t, wall)

    def next_deadline(self) -> Millis | None:
        return self.book.next_deadline()

    def state_of(self, fingerprint: str) -> TrackedAlert | None:
        return self.book.export(fingerprint)

    def tracked(self) -> list[TrackedAlert]:
        return self.book.entries()

    def _expire(self, now: Millis, out: AlertStateOutput) -> None:
        for t in self.book.expire(now):
            out.transitions.append((t, now))
            out.changed.append(t.fingerprint)

    def _heartbeat(self, alert: Alert, out: AlertStateOutput) -> None:
        # Heartbeats repeat every minute or so; pass one on when it moves the source's last-seen
        # time by a tenth of the staleness limit, enough for impact to judge staleness.
        source = heartbeat_source(alert)
        seen = alert.event_time
        last = self._heartbeat_sent.get(source)
        if last is None or seen - last >= self.settings.heartbeat_stale_after // 10:
            self._heartbeat_sent[source] = seen
            out.heartbeats.append((source, seen))


# -- health (keyed by component) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransitionIn:
    """A transition as the health stage receives it, with the alert-state clock at the time."""

    component: str
    fingerprint: str
    active: bool
    alert: Alert
    at: Millis


@dataclass(slots=True)
class HealthOutput:
    records: list[ComponentHealth] = field(default_factory=list)
    """Every change of a component's health, counts or newest alerts, in order: each one is
    forwarded to the impact stage (never folded by arrival time, DESIGN §2)."""
    received_at: list[Millis | None] = field(default_factory=list)
    """Per record, the newest `received_at` behind it (for the ingest lag)."""
    writes: list[tuple[str, str, Alert | None, Millis]] = field(default_factory=list)
    """Table writes: (component, fingerprint, alert or None to delete, at)."""
    origins: list[Origin | None] = field(default_factory=list)
    """Per record, the raw record behind it, when the stream tracks it (else empty)."""

    def extend(self, other: HealthOutput) -> None:
        self.records.extend(other.records)
        self.received_at.extend(other.received_at)
        self.writes.extend(other.writes)
        self.origins.extend(other.origins or [None] * len(other.records))

    def latest(self) -> dict[str, ComponentHealth]:
        """Per component, its newest record (what the compacted `component.health` keeps)."""
        return {r.id: r for r in self.records}


class HealthPartition:
    """One partition's `HealthBook`, the active alerts it holds and when each (component,
    fingerprint) last changed (mirroring the table, resolved ones included)."""

    def __init__(self) -> None:
        self.book = HealthBook()
        self._active: dict[tuple[str, str], Alert] = {}
        self._last: dict[tuple[str, str], tuple[Millis, bool]] = {}

    @classmethod
    def restored(
        cls, entries: Iterable[tuple[str, str, Alert | None, Millis]]
    ) -> tuple[HealthPartition, HealthOutput]:
        """Rebuild from the table (`None`: resolved at that time). Nothing is published again:
        the stream publishes before it writes the table (see `AlertPartition.restored`)."""
        part = cls()
        for component, fp, alert, at in sorted(entries, key=lambda e: (e[3], e[0], e[1])):
            part._last[(component, fp)] = (at, alert is not None)
            if alert is not None:
                part._active[(component, fp)] = alert
                part.book.apply(AlertTransition(component, fp, True, alert), at)
        return part, HealthOutput()

    def apply(self, items: Iterable[TransitionIn]) -> HealthOutput:
        out = HealthOutput()
        for item in items:
            key = (item.component, item.fingerprint)
            last = self._last.get(key)
            if last is not None and (
                item.at < last[0]
                or (
                    item.at == last[0]
                    and item.active == last[1]
                    and (not item.active or self._active.get(key) == item.alert)
                )
            ):
                continue  # sent again after a crash upstream: applied already
            if not item.active and key not in self._active:
                self._last[key] = (item.at, False)
                continue  # a resolve of an alert this partition never held
            self._last[key] = (item.at, item.active)
            if item.active:
                self._active[key] = item.alert
                out.writes.append((item.component, item.fingerprint, item.alert, item.at))
            else:
                del self._active[key]
                out.writes.append((item.component, item.fingerprint, None, item.at))
            t = AlertTransition(item.component, item.fingerprint, item.active, item.alert)
            record = self.book.apply(t, item.at)
            if record is not None:
                out.records.append(record)
                out.received_at.append(item.alert.received_at)
        return out


# -- impact (one instance) -----------------------------------------------------------------------


class ImpactState:
    """The impact stage: an `IncidentTracker` fed with health records, heartbeats, ticks,
    acknowledgements and topology versions, with its event-time clock and heartbeat book.

    Each health record is one step at its own time (the clock being the maximum so far): a
    step never folds changes of different event times, so a whole outage inside a backlog opens
    and resolves its incident exactly as it does live (DESIGN §2)."""

    def __init__(self, topology: Topology, settings: EngineSettings) -> None:
        self.settings = settings
        self.tracker = IncidentTracker(topology, settings.incidents)
        self.clock = IdleClock()
        self.heartbeats = Heartbeats(settings.heartbeat_stale_after)

    @property
    def topology(self) -> Topology:
        return self.tracker.topology

    def restore(
        self,
        snapshots: Iterable[IncidentSnapshot],
        health: Iterable[ComponentHealth],
        wall: float,
    ) -> StepResult:
        snaps = list(snapshots)
        records = list(health)
        times = [s.as_of for s in snaps] + [h.as_of for h in records]
        if not times:
            return StepResult()
        now = self.clock.observe(max(times), wall)
        return self.tracker.restore(snaps, records, now)

    def on_health(self, record: ComponentHealth, wall: float) -> StepResult:
        """One change of a component's health: one step at its time."""
        now = self.clock.observe(record.as_of, wall)
        result = self._stale_sources(now)
        step = self.tracker.apply_health([record], now)
        result.extend(step)
        return result

    def advance(self, at: Millis, wall: float) -> StepResult:
        """Time alone: stale heartbeat sources, pending resolutions, expiries."""
        return self._idle_step(self.clock.observe(at, wall))

    def on_tick(self, at: Millis, wall: float) -> StepResult:
        """An idle clock tick. The summary is republished with the new `as_of` even when its
        figures are unchanged: it is the pipeline's heartbeat, so a quiet, healthy system is
        never mistaken for a dead one (the war room shows STALE when summaries stop)."""
        result = self.advance(at, wall)
        now = self.clock.now
        if result.summary is None and self.tracker.summary is not None and now is not None:
            result.summary = replace(self.tracker.summary, as_of=now)
        return result

    def on_heartbeat(self, source: str, at: Millis, wall: float) -> StepResult:
        now = self.clock.observe(at, wall)
        self.heartbeats.seen(source, at)
        return self._idle_step(now)

    def on_ack(self, incident: str, by: str, at: Millis, wall: float) -> StepResult:
        return self.tracker.acknowledge(incident, by, self.clock.observe(at, wall))

    def on_maintenance(
        self, window: MaintenanceWindow, at: Millis | None, wall: float
    ) -> StepResult:
        now = self.clock.now if at is None else self.clock.observe(at, wall)
        return self.tracker.set_maintenance(window, now)

    def on_topology(self, topology: Topology) -> StepResult:
        if topology.version == self.tracker.topology.version:
            return StepResult()
        return self.tracker.set_topology(topology, self.clock.now or 0)

    def next_deadline(self) -> Millis | None:
        return self.tracker.next_deadline()

    def _idle_step(self, now: Millis) -> StepResult:
        result = self._stale_sources(now)
        if self.tracker.due(now):
            result.extend(self.tracker.apply_health([], now))
        return result

    def _stale_sources(self, now: Millis) -> StepResult:
        stale = self.heartbeats.stale_change(now)
        return StepResult() if stale is None else self.tracker.set_stale_sources(stale, now)


# -- event-time order across partitions ----------------------------------------------------------

T = TypeVar("T")

CAUGHT_UP: Millis = 2**62
"""An event time past every other: nothing unread holds the others back."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an input comes from: a raw partition and the offset of its record there."""

    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Mark:
    """How far one raw partition has been passed on along one path: every record before
    `offset` (with event times up to `read`); `caught_up` when nothing was left unread."""

    offset: int
    read: Millis
    caught_up: bool


class EventTimeOrder(Generic[T]):
    """One stage partition's waiting inputs, released in the order replay would apply them
    (DESIGN §2: a backlog is applied as if it had arrived live).

    Every upstream path (an upstream partition, `source`) passes on, in-band and after what they
    cover, one `Mark` per raw partition. An input from raw partition r at offset o and event
    time t is released once
    - every path has passed r beyond o: nothing read before it from r can still be on its way
      along another path (inputs of one raw partition keep their order), and
    - every raw partition has been read past t on every path, or was caught up there: a backlog
      on one partition holds back later event times of the others (event-time merge).
    A caught-up mark is a lease: without renewal for `lease` seconds of wall time (a dead worker
    renews nothing) only its `read` counts. Wall time is an argument; ties keep arrival order.
    Inputs without an origin (idle ticks, acknowledgements) need only the second condition.
    """

    def __init__(self, sources: int, lease: float = 2.0) -> None:
        self.sources = sources
        self.raw = 0
        self.lease = lease
        self._marks: dict[tuple[int, int], tuple[Mark, float]] = {}
        self._heap: list[tuple[Millis, int, Origin | None, T]] = []
        self._seq = 0
        self._offsets: dict[int, list[int]] = {}
        """Per raw partition, the offsets of the inputs waiting (a heap; released ones are
        dropped when they reach its top): `progress` needs their lowest without a walk over
        everything waiting (a backlog holds many thousands)."""
        self._gone: dict[tuple[int, int], int] = {}
        """(raw partition, offset) -> inputs released but still in `_offsets`."""

    def push(self, t: Millis, origin: Origin | None, item: T) -> None:
        heapq.heappush(self._heap, (t, self._seq, origin, item))
        self._seq += 1
        if origin is not None:
            heapq.heappush(self._offsets.setdefault(origin.partition, []), origin.offset)

    def mark(self, source: int, raw: int, marks: Iterable[tuple[int, Mark]], wall: float) -> None:
        """`source` passed on raw partitions `(r, mark)`, out of `raw` raw partitions."""
        self.raw = raw
        for r, m in marks:
            self._marks[(source, r)] = (m, wall)

    def _per_raw(self, wall: float) -> dict[int, tuple[int, Millis, bool]] | None:
        """Per raw partition over every path: (lowest offset, lowest read, all caught up)."""
        if self.raw == 0:
            return None
        out: dict[int, tuple[int, Millis, bool]] = {}
        for r in range(self.raw):
            marks = [self._marks.get((s, r)) for s in range(self.sources)]
            if any(m is None for m in marks):
                return None
            present = [m for m in marks if m is not None]
            out[r] = (
                min(m.offset for m, _ in present),
                min(m.read for m, _ in present),
                all(m.caught_up and wall - at <= self.lease for m, at in present),
            )
        return out

    def release(self, wall: float) -> list[T]:
        """The inputs that may be applied now, in event-time order."""
        per_raw = self._per_raw(wall)
        if per_raw is None:
            return []
        bound = min((CAUGHT_UP if up else read) for _, read, up in per_raw.values())
        out: list[T] = []
        touched: set[int] = set()
        while self._heap:
            t, _, origin, item = self._heap[0]
            if t > bound:
                break
            if origin is not None:
                passed = per_raw.get(origin.partition)
                if passed is None or passed[0] <= origin.offset:
                    break
            heapq.heappop(self._heap)
            if origin is not None:
                key = (origin.partition, origin.offset)
                self._gone[key] = self._gone.get(key, 0) + 1
                touched.add(origin.partition)
            out.append(item)
        for r in touched:  # drop what was released from the offsets' tops (a stage that never
            self._lowest_waiting(r)  # asks for `progress`, impact, must not keep them all)
        return out

    def _lowest_waiting(self, raw: int) -> int | None:
        """The lowest offset of raw partition `raw` among the inputs waiting."""
        offsets = self._offsets.get(raw)
        gone = self._gone
        while offsets:
            key = (raw, offsets[0])
            left = gone.get(key)
            if not left:
                return offsets[0]
            if left == 1:
                del gone[key]
            else:
                gone[key] = left - 1
            heapq.heappop(offsets)
        return None

    def progress(self, wall: float) -> list[tuple[int, Mark]] | None:
        """This partition's own marks to pass on: what every path passed it, minus what still
        waits here."""
        per_raw = self._per_raw(wall)
        if per_raw is None:
            return None
        oldest = self._heap[0][0] if self._heap else None
        out = []
        for r, (offset, read, up) in sorted(per_raw.items()):
            if oldest is not None:
                read = min(read, oldest)
            lowest = self._lowest_waiting(r)
            if lowest is not None:
                offset = min(offset, lowest)
            out.append((r, Mark(offset, read, up and not self._heap)))
        return out

    def heard(self) -> float | None:
        """The wall time of the oldest mark held (None before every path was heard from): the
        last moment this partition knew nothing was unread upstream. An idle clock counts
        idle time only up to here, never through a silence: a dead worker's last caught-up
        mark is a lease for up to `lease` seconds, while records already arrive unread on its
        partitions (a clock run past them would stamp their changes late)."""
        if self.raw == 0:
            return None
        times = [at for (_, r), (_, at) in self._marks.items() if r < self.raw]
        if len(times) < self.sources * self.raw:
            return None
        return min(times)

    def pending(self) -> int:
        return len(self._heap)

    def newest(self) -> Millis | None:
        """The latest event time waiting (for inputs without one of their own)."""
        return max((t for t, _, _, _ in self._heap), default=None)
