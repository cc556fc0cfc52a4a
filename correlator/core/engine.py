"""The whole core in one object: canonical alerts in, incident events and figures out.

`Engine` chains the same pieces the stream stages run separately — alert state (by
fingerprint), health (by component), incidents (one instance) — so `correlator replay`, the
tests and the stream all drive identical code. Time is event time, passed in with each alert.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from correlator.core.alert_rules import apply_alert_rules
from correlator.core.alert_state import AlertBook, AlertTransition, Resolver
from correlator.core.alerts import Alert, AlertError
from correlator.core.health import ComponentHealth, HealthBook
from correlator.core.heartbeats import Heartbeats
from correlator.core.incidents import IncidentSettings, IncidentTracker, StepResult, UnmappedAlert
from correlator.core.maintenance import MaintenanceWindow
from correlator.core.matching import Matcher
from correlator.core.timefmt import MINUTE, Millis
from correlator.core.topology import Topology

HEARTBEAT_ALERTNAME = "Watchdog"


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Correlation tunables plus heartbeat handling."""

    incidents: IncidentSettings = field(default_factory=IncidentSettings)
    heartbeat_selectors: tuple[Mapping[str, str], ...] = ()
    heartbeat_stale_after: Millis = 5 * MINUTE


@dataclass(slots=True)
class AlertCounts:
    """What `replay --summary` reports under `alerts`."""

    received: int = 0
    mapped: int = 0
    unmapped: int = 0
    invalid: int = 0
    heartbeats: int = 0


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


class Engine:
    """Alert state + health + incidents, driven by canonical alerts in event-time order."""

    def __init__(self, topology: Topology, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self.topology = topology
        self.resolve = matcher_resolver(topology)
        self.alerts = AlertBook()
        self.health = HealthBook()
        self.tracker = IncidentTracker(topology, self.settings.incidents)
        self.counts = AlertCounts()
        self.clock: Millis | None = None
        self.heartbeats = Heartbeats(self.settings.heartbeat_stale_after)
        self._reported_unmapped: set[str] = set()

    # -- inputs ------------------------------------------------------------------------------

    def ingest(self, alert: Alert) -> StepResult:
        """Apply one canonical alert."""
        result = StepResult()
        self.counts.received += 1
        alert = apply_alert_rules(alert, self.topology.alert_rules)
        try:
            alert.check_time()
        except AlertError:
            self.counts.invalid += 1
            return result
        now = self._advance(alert.event_time)
        if is_heartbeat(alert, self.settings.heartbeat_selectors):
            self.counts.heartbeats += 1
            source = heartbeat_source(alert)
            self.heartbeats.seen(source, alert.event_time)
            result.extend(self._expire_and_step(now))
            return result
        outcome = self.alerts.apply(alert, self.resolve, now)
        if outcome.kind == "unmapped":
            self.counts.unmapped += 1
            if outcome.kind == "unmapped" and alert.fingerprint not in self._reported_unmapped:
                self._reported_unmapped.add(alert.fingerprint)
                result.unmapped.append(UnmappedAlert(alert, outcome.tried))
        else:
            self.counts.mapped += 1
        if alert.status == "resolved":
            self._reported_unmapped.discard(alert.fingerprint)
        transitions = [outcome.transition] if outcome.transition is not None else []
        result.extend(self._expire_and_step(now, transitions))
        return result

    def record_invalid(self, count: int = 1) -> None:
        """Count alerts that never became canonical (dead letters)."""
        self.counts.received += count
        self.counts.invalid += count

    def tick(self, now: Millis) -> StepResult:
        """Advance the clock without an alert: expiry, pending resolutions, stale heartbeats."""
        return self._expire_and_step(self._advance(now))

    def acknowledge(self, incident_id: str, by: str, at: Millis) -> StepResult:
        return self.tracker.acknowledge(incident_id, by, self._advance(at))

    def set_maintenance(self, window: MaintenanceWindow) -> StepResult:
        """A planned-work window (DESIGN §6); steps at the current clock once there is one."""
        return self.tracker.set_maintenance(window, self.clock)

    def set_topology(self, topology: Topology) -> StepResult:
        """Switch topology; alerts keep the component they were first mapped to."""
        self.topology = topology
        self.resolve = matcher_resolver(topology)
        return self.tracker.set_topology(topology, self.clock or 0)

    def next_deadline(self) -> Millis | None:
        """The next time something happens without new input (expiry, resolution)."""
        times = (
            self.alerts.next_deadline(),
            self.tracker.next_deadline(),
            self.tracker.next_maintenance_change(),
        )
        candidates = [t for t in times if t is not None]
        return min(candidates) if candidates else None

    def finish(self, until: Millis | None = None) -> StepResult:
        """End of input: advance past every pending deadline (or to `until`)."""
        result = StepResult()
        if until is not None:
            result.extend(self.tick(until))
            return result
        while (deadline := self.next_deadline()) is not None:
            result.extend(self.tick(max(deadline, self.clock or deadline)))
        return result

    # -- internals ---------------------------------------------------------------------------

    def _advance(self, t: Millis) -> Millis:
        self.clock = t if self.clock is None else max(self.clock, t)
        return self.clock

    def _expire_and_step(
        self, now: Millis, transitions: list[AlertTransition] | None = None
    ) -> StepResult:
        pending = list(transitions or [])
        pending.extend(self.alerts.expire(now))
        changes: list[ComponentHealth] = []
        for t in pending:
            record = self.health.apply(t, now)
            if record is not None:
                changes.append(record)
        result = StepResult()
        stale = self.heartbeats.stale_change(now)
        if stale is not None:
            result.extend(self.tracker.set_stale_sources(stale, now))
        if changes or self.tracker.due(now):
            step = self.tracker.apply_health(changes, now)
            step.health = changes
            result.extend(step)
        return result
