"""The whole core in one object: canonical alerts in, incident events and figures out.

`Engine` chains one of each per-partition stage state of `correlator.core.stages` — alert state
(by fingerprint), health (by component), impact (one instance) — exactly as the stream's agents
drive them, so `correlator replay`, the tests and the stream run the same glue. Time is event
time, passed in with each alert.
"""

from __future__ import annotations

from dataclasses import dataclass

from correlator.core.alert_rules import apply_alert_rules
from correlator.core.alert_state import AlertBook
from correlator.core.alerts import Alert, AlertError
from correlator.core.health import HealthBook
from correlator.core.incidents import IncidentTracker, StepResult
from correlator.core.maintenance import MaintenanceWindow
from correlator.core.stages import (
    HEARTBEAT_ALERTNAME,
    AlertPartition,
    AlertStateOutput,
    EngineSettings,
    HealthPartition,
    ImpactState,
    TransitionIn,
    heartbeat_source,
    is_heartbeat,
    matcher_resolver,
)
from correlator.core.timefmt import Millis
from correlator.core.topology import Topology

__all__ = [
    "HEARTBEAT_ALERTNAME",
    "AlertCounts",
    "Engine",
    "EngineSettings",
    "heartbeat_source",
    "is_heartbeat",
    "matcher_resolver",
]

_WALL = 0.0
"""Replay has no wall clock: idle ticks never happen, `finish` advances the clock instead."""


@dataclass(slots=True)
class AlertCounts:
    """What `replay --summary` reports under `alerts`."""

    received: int = 0
    mapped: int = 0
    unmapped: int = 0
    invalid: int = 0
    heartbeats: int = 0


class Engine:
    """Alert state → health → impact, driven by canonical alerts in order."""

    def __init__(self, topology: Topology, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self.topology = topology
        self.resolve = matcher_resolver(topology)
        self.alert_state = AlertPartition(AlertBook(), self.settings)
        self.health_state = HealthPartition()
        self.impact = ImpactState(topology, self.settings)
        self.counts = AlertCounts()
        self.clock: Millis | None = None

    @property
    def alerts(self) -> AlertBook:
        return self.alert_state.book

    @property
    def health(self) -> HealthBook:
        return self.health_state.book

    @property
    def tracker(self) -> IncidentTracker:
        return self.impact.tracker

    # -- inputs ------------------------------------------------------------------------------

    def ingest(self, alert: Alert) -> StepResult:
        """Apply one canonical alert."""
        self.counts.received += 1
        alert = apply_alert_rules(alert, self.topology.alert_rules)
        try:
            alert.check_time()
        except AlertError:
            self.counts.invalid += 1
            return StepResult()
        self._advance(alert.event_time)
        out = self.alert_state.apply([alert], self.resolve, _WALL)
        self.counts.mapped += out.mapped_count
        self.counts.unmapped += out.unmapped_count
        self.counts.heartbeats += out.heartbeat_count
        return self._downstream(out)

    def record_invalid(self, count: int = 1) -> None:
        """Count alerts that never became canonical (dead letters)."""
        self.counts.received += count
        self.counts.invalid += count

    def tick(self, now: Millis) -> StepResult:
        """Advance the clock without an alert: expiry, pending resolutions, stale heartbeats —
        what an idle tick does in the stream."""
        now = self._advance(now)
        result = self._downstream(self.alert_state.advance(now, _WALL))
        result.extend(self.impact.advance(now, _WALL))
        return result

    def acknowledge(self, incident_id: str, by: str, at: Millis) -> StepResult:
        return self.impact.on_ack(incident_id, by, self._advance(at), _WALL)

    def set_maintenance(self, window: MaintenanceWindow) -> StepResult:
        """A planned-work window (DESIGN §6); steps at the current clock once there is one."""
        return self.tracker.set_maintenance(window, self.clock)

    def set_topology(self, topology: Topology) -> StepResult:
        """Switch topology; alerts keep the component they were first mapped to."""
        self.topology = topology
        self.resolve = matcher_resolver(topology)
        return self.impact.on_topology(topology)

    def next_deadline(self) -> Millis | None:
        """The next time something happens without new input (expiry, resolution)."""
        times = (
            self.alert_state.next_deadline(),
            self.impact.next_deadline(),
            self.impact.tracker.next_maintenance_change(),
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

    def _downstream(self, out: AlertStateOutput) -> StepResult:
        """What the alert state's output does downstream, in the stream's order: heartbeats go
        straight to impact; each transition to health, and each health change to impact."""
        result = StepResult()
        result.unmapped.extend(out.unmapped)
        for source, at in out.heartbeats:
            result.extend(self.impact.on_heartbeat(source, at, _WALL))
        for t, at in out.transitions:
            item = TransitionIn(t.component, t.fingerprint, t.active, t.alert, at)
            for record in self.health_state.apply([item]).records:
                step = self.impact.on_health(record, _WALL)
                step.health.append(record)
                result.extend(step)
        return result
