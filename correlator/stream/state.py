"""Per-stage state around the core, without Kafka: what each agent keeps between records.

The agents decode a record, call one of these, write what it returns and send it. Everything
here is synchronous and testable without a broker; the decisions themselves stay in
`correlator.core` (alert state, health, incidents, restore).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from correlator.core.alert_state import AlertBook, AlertTransition, Resolver, TrackedAlert
from correlator.core.alerts import Alert
from correlator.core.engine import EngineSettings, heartbeat_source, is_heartbeat
from correlator.core.health import ComponentHealth, HealthBook
from correlator.core.heartbeats import Heartbeats
from correlator.core.incidents import IncidentTracker, StepResult, UnmappedAlert
from correlator.core.maintenance import MaintenanceWindow
from correlator.core.snapshot import IncidentSnapshot
from correlator.core.timefmt import MINUTE, Millis
from correlator.core.topology import Topology


class IdleClock:
    """The event-time clock of one stage: the maximum event time seen, and when it last moved.

    An idle stage advances it by the wall time elapsed since then (`idle_time`), so deadlines fire
    without new alerts whether the alerts are live or replayed from the past.
    """

    def __init__(self) -> None:
        self.now: Millis | None = None
        self._anchor = 0.0

    def observe(self, t: Millis, wall: float) -> Millis:
        if self.now is None or t > self.now:
            self.now = t
            self._anchor = wall
        return self.now

    def idle_time(self, wall: float) -> Millis | None:
        if self.now is None:
            return None
        return self.now + max(0, int((wall - self._anchor) * 1000))


# -- alert state (keyed by fingerprint) ----------------------------------------------------------


@dataclass(slots=True)
class AlertStateOutput:
    """What one batch of alerts did in one partition."""

    transitions: list[tuple[AlertTransition, Millis]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    """Fingerprints whose persisted state changed (written to the table; repeats are not)."""
    unmapped: list[UnmappedAlert] = field(default_factory=list)
    heartbeats: list[tuple[str, Millis]] = field(default_factory=list)


REANNOUNCE_WINDOW: Millis = 10 * MINUTE


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
        """Rebuild from the table; re-announce active and recently resolved alerts, because a
        crash between the table write and the send of a transition would otherwise lose it (the
        health stage drops announcements it already has)."""
        items = list(entries)
        part = cls(AlertBook.restore(items), settings)
        out = AlertStateOutput()
        if items:
            now = part.clock.observe(max(e.last_change for e in items), wall)
            for e in sorted(items, key=lambda e: (e.last_change, e.fingerprint)):
                if e.active or now - e.last_change <= REANNOUNCE_WINDOW:
                    t = AlertTransition(e.component, e.fingerprint, e.active, e.alert)
                    out.transitions.append((t, e.last_change))
            part._expire(now, out)
        return part, out

    def apply(self, alerts: Iterable[Alert], resolve: Resolver, wall: float) -> AlertStateOutput:
        """Apply a batch in order, exactly as `Engine.ingest` does alert by alert."""
        out = AlertStateOutput()
        for alert in alerts:
            now = self.clock.observe(alert.event_time, wall)
            if is_heartbeat(alert, self.settings.heartbeat_selectors):
                self._heartbeat(alert, out)
                self._expire(now, out)
                continue
            outcome = self.book.apply(alert, resolve, now)
            fp = alert.fingerprint
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

    def tick(self, wall: float) -> AlertStateOutput:
        """Idle: advance the clock by wall time and expire alerts whose `ends_at` passed."""
        out = AlertStateOutput()
        t = self.clock.idle_time(wall)
        if t is not None:
            self._expire(self.clock.observe(t, wall), out)
        return out

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
    records: dict[str, ComponentHealth] = field(default_factory=dict)
    """Per component, the health to publish (latest of the batch)."""
    received_at: dict[str, Millis] = field(default_factory=dict)
    """Per component, the newest `received_at` behind its record (for the ingest lag)."""
    writes: list[tuple[str, str, Alert | None, Millis]] = field(default_factory=list)
    """Table writes: (component, fingerprint, alert or None to delete, at)."""


def healthy(component: str, now: Millis) -> ComponentHealth:
    return ComponentHealth(component, "healthy", 0, 0, 0, (), now)


class HealthPartition:
    """One partition's `HealthBook`, and the active alerts it holds (mirroring the table)."""

    def __init__(self) -> None:
        self.book = HealthBook()
        self._active: dict[tuple[str, str], Alert] = {}

    @classmethod
    def restored(
        cls, entries: Iterable[tuple[str, str, Alert, Millis]]
    ) -> tuple[HealthPartition, HealthOutput]:
        """Rebuild from the table and return every component's health, to be published again: a
        crash between the table write and the send would otherwise lose a change."""
        part = cls()
        out = HealthOutput()
        for component, fp, alert, at in sorted(entries, key=lambda e: (e[3], e[0], e[1])):
            part._active[(component, fp)] = alert
            part.book.apply(AlertTransition(component, fp, True, alert), at)
            record = part.book.get(component)
            if record is not None:
                out.records[component] = record
        return part, out

    def apply(self, items: Iterable[TransitionIn]) -> HealthOutput:
        out = HealthOutput()
        for item in items:
            key = (item.component, item.fingerprint)
            held = self._active.get(key)
            if (item.active and held == item.alert) or (not item.active and held is None):
                # Already applied (a redelivery or a re-announcement after a restart): publish
                # the current health again, in case the first publication was lost.
                current = self.book.get(item.component) or healthy(item.component, item.at)
                out.records.setdefault(item.component, current)
                continue
            if item.active:
                self._active[key] = item.alert
                out.writes.append((item.component, item.fingerprint, item.alert, item.at))
            else:
                del self._active[key]
                out.writes.append((item.component, item.fingerprint, None, item.at))
            t = AlertTransition(item.component, item.fingerprint, item.active, item.alert)
            record = self.book.apply(t, item.at)
            if record is not None:
                out.records[item.component] = record
                recv = item.alert.received_at
                out.received_at[item.component] = max(
                    recv, out.received_at.get(item.component, recv)
                )
        return out


class Coalescer:
    """At most one forward per key per `interval` seconds; later ones wait, the newest wins."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._pending: dict[str, bytes] = {}

    def offer(self, key: str, value: bytes, wall: float) -> bytes | None:
        """The value to send now, or None when it must wait (kept as pending)."""
        if key in self._pending or wall - self._last.get(key, -1e18) < self.interval:
            self._pending[key] = value
            return None
        self._last[key] = wall
        return value

    def due(self, wall: float) -> list[tuple[str, bytes]]:
        out = []
        for key in list(self._pending):
            if wall - self._last.get(key, -1e18) >= self.interval:
                out.append((key, self._pending.pop(key)))
                self._last[key] = wall
        return out

    def pending(self) -> int:
        return len(self._pending)

    def drain(self) -> list[tuple[str, bytes]]:
        out = list(self._pending.items())
        self._pending.clear()
        return out


# -- impact (one instance) -----------------------------------------------------------------------


class ImpactState:
    """The impact stage: an `IncidentTracker` fed from `impact.input`, with the event-time clock,
    heartbeats and stale sources exactly as `Engine` keeps them."""

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

    def on_health(self, records: list[ComponentHealth], wall: float) -> StepResult:
        """Health records that arrived together: one step at the newest of their times."""
        now = self.clock.observe(max(r.as_of for r in records), wall)
        result = self._stale_sources(now)
        result.extend(self.tracker.apply_health(records, now))
        return result

    def on_tick(self, at: Millis, wall: float) -> StepResult:
        """An idle clock tick. The summary is republished with the new `as_of` even when its
        figures are unchanged: it is the pipeline's heartbeat, so a quiet, healthy system is
        never mistaken for a dead one (the war room shows STALE when summaries stop)."""
        now = self.clock.observe(at, wall)
        result = self._idle_step(now)
        if result.summary is None and self.tracker.summary is not None:
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

    def _idle_step(self, now: Millis) -> StepResult:
        result = self._stale_sources(now)
        if self.tracker.due(now):
            result.extend(self.tracker.apply_health([], now))
        return result

    def _stale_sources(self, now: Millis) -> StepResult:
        stale = self.heartbeats.stale_change(now)
        return StepResult() if stale is None else self.tracker.set_stale_sources(stale, now)
