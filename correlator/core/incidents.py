"""Incident correlation (DESIGN §6): the tracker, its inputs and one step.

`IncidentTracker` is the impact stage's state. It receives component health records, the clock,
acknowledgements and topology versions, and returns exactly one `IncidentEvent` per change of an
incident's snapshot, plus the changed `ServiceImpact`s and the `ImpactSummary`. A step evaluates
(`evaluator`), groups (`grouping`) and publishes (`publication`); `restore` rebuilds it after a
restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from correlator.core import grouping, publication
from correlator.core.evaluator import Evaluator
from correlator.core.figures import (
    EMPTY,
    Evaluation,
    ProblemState,
    SegmentFigure,
    ServiceFigure,
)
from correlator.core.health import ComponentHealth
from correlator.core.incident import Incident, IncidentSettings, StepResult, UnmappedAlert
from correlator.core.maintenance import MaintenanceBook, MaintenanceWindow
from correlator.core.restore import restore as restore_state
from correlator.core.snapshot import (
    ComponentEntry,
    ImpactSummary,
    IncidentSnapshot,
    SegmentImpact,
    ServiceEntry,
    ServiceImpact,
)
from correlator.core.timefmt import Millis
from correlator.core.topology import Topology

__all__ = ["IncidentSettings", "IncidentTracker", "StepResult", "UnmappedAlert"]


class IncidentTracker:
    """The impact stage: topology + all component health → incidents and figures."""

    def __init__(self, topology: Topology, settings: IncidentSettings | None = None) -> None:
        self.settings = settings or IncidentSettings()
        self.health: dict[str, ComponentHealth] = {}
        self.incidents: dict[str, Incident] = {}
        self.member_of: dict[str, str] = {}
        self.last_incident_of: dict[str, str] = {}
        self.unattached: tuple[str, ...] = ()
        self.opened_total = 0
        self.stale_sources: tuple[str, ...] = ()
        self._service_records: dict[str, ServiceImpact] = {}
        self._service_inputs: tuple[Evaluation, dict[str, tuple[str, ...]]] | None = None
        self._incidents_by_service: (
            tuple[tuple[tuple[str, tuple[str, ...]], ...], dict[str, tuple[str, ...]]] | None
        ) = None
        self._summary: ImpactSummary | None = None
        self._alone: dict[tuple[str, ProblemState], tuple[int, int]] = {}
        self.problems: dict[str, ProblemState] = {}
        self._since_eval: set[str] | None = None
        """Components whose problem state may have changed since the global evaluation (None:
        unknown, the evaluator compares them all)."""
        """Components whose own health is down or degraded (kept with `health`)."""
        self._unplaced: set[str] = set()
        """Problems in no incident: new ones, and unattached ones."""
        self._touched: set[str] = set()
        """Components whose health record changed since the last step."""
        self._segments_for: dict[int, tuple[Evaluation, tuple[SegmentImpact, ...]]] = {}
        self._segment_chains: dict[
            int,
            tuple[list[tuple[int, int, str]], list[SegmentImpact], dict[str, tuple[int, int, str]]],
        ] = {}
        """Published segment order per evaluation serial, for the next evaluation to update."""
        """The last evaluation's segment figures as published."""
        self._unattached_set: frozenset[str] = frozenset()
        """`unattached` as a set."""
        self._unattached_at: tuple[int, int] = (-1, -1)
        """The evaluator's (reach epoch, version) when `unattached` was found."""
        self.global_eval: Evaluation = EMPTY
        self.maintenance = MaintenanceBook()
        """Planned-work windows (DESIGN §6); `publication.build` marks incidents planned."""
        self._maintenance_at: tuple[Millis, tuple[MaintenanceWindow, ...]] = (0, ())
        self._set_topology(topology)

    # -- inputs ------------------------------------------------------------------------------

    def set_topology(self, topology: Topology, now: Millis) -> StepResult:
        """Switch to a new topology version and re-evaluate everything."""
        self._set_topology(topology)
        return self.step(now)

    def apply_health(self, records: Iterable[ComponentHealth], now: Millis) -> StepResult:
        """Fold health records (newest wins per component) and re-evaluate."""
        nodes = self.topology.nodes
        for record in records:
            c = record.id
            self._touched.add(c)
            if self._since_eval is not None:
                self._since_eval.add(c)
            if record.state == "healthy" and record.alert_count == 0:
                self.health.pop(c, None)
            else:
                self.health[c] = record
            if record.state == "healthy" or c not in nodes:
                if self.problems.pop(c, None) is not None:
                    self._unplaced.discard(c)
            else:
                self.problems[c] = record.state
                if c not in self.member_of:
                    self._unplaced.add(c)
        return self.step(now)

    def acknowledge(self, incident_id: str, by: str, at: Millis) -> StepResult:
        """Record an acknowledgement; unknown, merged-away or repeated ones change nothing."""
        result = StepResult()
        inc = self.incidents.get(incident_id)
        while inc is not None and inc.status == "merged" and inc.merged_into:
            inc = self.incidents.get(inc.merged_into)
        if inc is None or inc.ack_by is not None or inc.snapshot is None:
            return result
        inc.ack_by, inc.ack_at = by, at
        publication.publish(self, inc, at, "incident.acknowledged", result)
        return result

    def set_maintenance(self, window: MaintenanceWindow, now: Millis | None) -> StepResult:
        """Declare, change or end (`ends_at` in the past) a planned-work window; re-evaluate at
        `now` (None: no step yet, the window is only kept)."""
        self.maintenance.put(window)
        return StepResult() if now is None else self.step(now)

    def set_stale_sources(self, sources: tuple[str, ...], now: Millis) -> StepResult:
        self.stale_sources = sources
        result = StepResult()
        publication.publish_summary(self, now, result)
        return result

    # -- the step ----------------------------------------------------------------------------

    def step(self, now: Millis) -> StepResult:
        """Re-evaluate with the current health at event time `now`."""
        problems = self.problems
        self._maintenance_step(now)
        # Root causes too: when one incident holds every problem (a storm), its own figures are
        # these.
        g = self.evaluator.evaluate(
            problems, reach=True, root_causes=True, since_last=self._since_eval
        )
        self._since_eval = set()
        self.global_eval = g
        special, merged_now = grouping.place(self, g, now)
        result = StepResult()
        for inc in merged_now:
            publication.publish(self, inc, now, "incident.merged", result)
        for inc in grouping.active(self):
            if inc.members:
                inc.pending_since = None
            elif inc.pending_since is not None:
                deadline = inc.pending_since + self.settings.resolve_after
                if now >= deadline:
                    inc.status = "resolved"
                    inc.resolved_at = deadline
                    publication.publish(self, inc, now, "incident.resolved", result)
                    continue
            publication.publish(self, inc, now, special.get(inc.id), result)
        self._expire_ended(now, result)
        publication.publish_services(self, now, result)
        publication.publish_summary(self, now, result)
        return result

    def _expire_ended(self, now: Millis, result: StepResult) -> None:
        """Forget ended incidents past retention: tombstones for the compacted topic."""
        retention = self.settings.retention
        for inc in list(self.incidents.values()):
            if inc.active:
                continue
            ended = inc.resolved_at if inc.status == "resolved" else inc.updated_at
            if ended is not None and now - ended >= retention:
                del self.incidents[inc.id]
                result.tombstones.append(inc.id)
        if result.tombstones:
            gone = set(result.tombstones)
            self.last_incident_of = {
                c: i for c, i in self.last_incident_of.items() if i not in gone
            }

    def next_expiry(self) -> Millis | None:
        """When the next ended incident passes retention (not a deadline replay waits for)."""
        ends = [
            (inc.resolved_at if inc.status == "resolved" else inc.updated_at)
            for inc in self.incidents.values()
            if not inc.active
        ]
        times = [e + self.settings.retention for e in ends if e is not None]
        return min(times) if times else None

    def due(self, now: Millis) -> bool:
        """Does time alone (a pending resolution, an expiry, a window) call for a step at `now`?"""
        times = (self.next_deadline(), self.next_expiry(), self.next_maintenance_change())
        return any(t is not None and t <= now for t in times)

    def next_maintenance_change(self) -> Millis | None:
        """When a window starts or ends after the last step while an incident is open (its
        planned flag may change then), if ever: a deadline for idle ticks and replay."""
        change = self.maintenance.next_change(self._maintenance_at[0])  # no windows: None
        if change is None or not any(i.members for i in self.incidents.values() if i.active):
            return None
        return change

    def _maintenance_step(self, now: Millis) -> None:
        """Rebuild every open incident's snapshot when the windows in force changed."""
        active = self.maintenance.state_at(now)
        if active != self._maintenance_at[1]:
            for inc in self.incidents.values():
                inc.dirty = inc.dirty or inc.active
        self._maintenance_at = (now, active)

    def next_deadline(self) -> Millis | None:
        """When a pending incident will resolve, if any (for idle clock ticks and replay)."""
        deadlines = [
            inc.pending_since + self.settings.resolve_after
            for inc in grouping.active(self)
            if inc.pending_since is not None and not inc.members
        ]
        return min(deadlines) if deadlines else None

    def restore(
        self,
        snapshots: Iterable[IncidentSnapshot],
        health: Iterable[ComponentHealth],
        now: Millis,
    ) -> StepResult:
        """Load the last published snapshots and health records into this fresh tracker
        (see `correlator.core.restore.restore`)."""
        return restore_state(self, snapshots, health, now)

    # -- figures and snapshots ---------------------------------------------------------------

    @property
    def summary(self) -> ImpactSummary | None:
        return self._summary

    def service_records(self) -> Mapping[str, ServiceImpact]:
        return self._service_records

    def open_snapshots(self) -> list[IncidentSnapshot]:
        return [i.snapshot for i in grouping.active(self) if i.snapshot is not None]

    def _set_topology(self, topology: Topology) -> None:
        self.topology = topology
        self.evaluator = Evaluator(
            topology, bound=self.settings.combination_bound, seed=self.settings.seed
        )
        self._alone = {}
        self._service_entries: dict[
            int, tuple[ServiceFigure, tuple[float, float, int, int], ServiceEntry]
        ] = {}
        self._component_entries: dict[str, tuple[ComponentHealth, bool, ComponentEntry]] = {}
        self._segments_for = {}
        self._segment_chains = {}
        self._segment_entries: dict[
            int, tuple[SegmentFigure, tuple[tuple[int, int, str], SegmentImpact] | None]
        ] = {}
        self._users: dict[str, list[int]] = {}
        for segment in topology.segments:
            for sid in segment.uses:
                self._users.setdefault(sid, []).append(segment.customers)
        self._service_inputs = None
        self._incidents_by_service = None
        self.global_eval = EMPTY  # evaluations of another topology are not reused
        self._sync_problems()
        for inc in self.incidents.values():
            inc.evaluator = None
            inc.problems = None
            inc.listed.roots = None  # entries carry names, owners and places from the topology
            inc.dirty = True

    def _sync_problems(self) -> None:
        """The problem set (and what is not yet placed) from `health`, from scratch."""
        nodes = self.topology.nodes
        self.problems = {
            c: h.state for c, h in self.health.items() if h.state != "healthy" and c in nodes
        }
        self._since_eval = None  # the evaluator compares the whole set once
        self._unplaced = {p for p in self.problems if p not in self.member_of}
