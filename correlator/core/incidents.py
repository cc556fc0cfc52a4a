"""Incident correlation (DESIGN §6): grouping, sticky identity, merge, reopen, resolve, events.

`IncidentTracker` is the impact stage's state. It receives component health records, the clock,
acknowledgements and topology versions, and returns exactly one `IncidentEvent` per change of an
incident's snapshot, plus the changed `ServiceImpact`s and the `ImpactSummary`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction

from correlator.core.alerts import Alert
from correlator.core.evaluator import Evaluator, ReachSearch
from correlator.core.figures import (
    EMPTY,
    Evaluation,
    ProblemState,
    ServiceFigure,
    round_half_up,
)
from correlator.core.health import ComponentHealth
from correlator.core.maintenance import MaintenanceBook, MaintenanceWindow
from correlator.core.presentation import (
    comparable,
    incident_title,
    overlapping_groups,
    segment_impacts,
    severity_of,
)
from correlator.core.snapshot import (
    ComponentEntry,
    EventType,
    ImpactSummary,
    IncidentEvent,
    IncidentSnapshot,
    IncidentStatus,
    SegmentImpact,
    ServiceEntry,
    ServiceImpact,
    Severity,
    worse,
)
from correlator.core.timefmt import MINUTE, Millis
from correlator.core.topology import Topology


@dataclass(frozen=True, slots=True)
class IncidentSettings:
    """Tunables of correlation (DESIGN §6 defaults)."""

    resolve_after: Millis = 0
    retention: Millis = 7 * 24 * 60 * MINUTE
    """Resolved and merged incidents are tombstoned on `incidents` (and forgotten) this long
    after they ended; the history database keeps them."""
    reopen_window: Millis = 10 * MINUTE
    sev1_fraction: Fraction = Fraction(1, 10)
    combination_bound: int = 4096
    seed: int = 0


@dataclass(slots=True)
class _Incident:
    id: str
    opened_at: Millis
    status: IncidentStatus = "open"
    members: set[str] = field(default_factory=set)
    seq: int = 0
    updated_at: Millis = 0
    resolved_at: Millis | None = None
    merged_into: str | None = None
    pending_since: Millis | None = None
    last_reach: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    snapshot: IncidentSnapshot | None = None
    severity: Severity = "SEV4"
    peak_customers: int = 0
    peak_severity: Severity = "SEV4"
    ack_by: str | None = None
    ack_at: Millis | None = None
    last_components: tuple[ComponentEntry, ...] = ()
    last_root_causes: tuple[str, ...] = ()
    title: str = ""
    evaluator: Evaluator | None = None
    """Evaluates this incident's own problems, each step from the last."""
    revision: int = 0
    """Bumped on every change of `members`."""
    search: ReachSearch | None = None
    """The search behind its down-reach, continued step after step."""
    search_union: frozenset[str] = frozenset()
    dirty: bool = True
    """Something its snapshot is built from changed since it was last built."""
    services_sorted: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.status == "open"


@dataclass(slots=True)
class StepResult:
    """Everything one step of the impact stage publishes."""

    events: list[IncidentEvent] = field(default_factory=list)
    services: list[ServiceImpact] = field(default_factory=list)
    summary: ImpactSummary | None = None
    health: list[ComponentHealth] = field(default_factory=list)
    unmapped: list[UnmappedAlert] = field(default_factory=list)
    tombstones: list[str] = field(default_factory=list)
    """Ids of ended incidents past retention: deleted from the compacted `incidents` topic."""

    def extend(self, other: StepResult) -> None:
        """Append `other`'s outputs (a later step) to this one."""
        self.events.extend(other.events)
        self.services.extend(other.services)
        self.summary = other.summary or self.summary
        self.health.extend(other.health)
        self.unmapped.extend(other.unmapped)
        self.tombstones.extend(other.tombstones)


@dataclass(frozen=True, slots=True)
class UnmappedAlert:
    """An alert about no known component: a topology gap, never dropped silently."""

    alert: Alert
    tried: tuple[tuple[str, str], ...]


class IncidentTracker:
    """The impact stage: topology + all component health → incidents and figures."""

    def __init__(self, topology: Topology, settings: IncidentSettings | None = None) -> None:
        self.settings = settings or IncidentSettings()
        self.health: dict[str, ComponentHealth] = {}
        self.incidents: dict[str, _Incident] = {}
        self.member_of: dict[str, str] = {}
        self.last_incident_of: dict[str, str] = {}
        self.unattached: tuple[str, ...] = ()
        self.opened_total = 0
        self.stale_sources: tuple[str, ...] = ()
        self._service_records: dict[str, ServiceImpact] = {}
        self._service_inputs: tuple[Evaluation, dict[str, tuple[str, ...]]] | None = None
        self._summary: ImpactSummary | None = None
        self._alone: dict[tuple[str, ProblemState], tuple[int, int]] = {}
        self.problems: dict[str, ProblemState] = {}
        """Components whose own health is down or degraded (kept with `health`)."""
        self._unplaced: set[str] = set()
        """Problems in no incident: new ones, and unattached ones."""
        self._touched: set[str] = set()
        """Components whose health record changed since the last step."""
        self._segments_for: tuple[Evaluation, tuple[SegmentImpact, ...]] = (EMPTY, ())
        """The last evaluation's segment figures as published."""
        self._unattached_at: tuple[int, int] = (-1, -1)
        """The evaluator's (reach epoch, version) when `unattached` was found."""
        self.global_eval: Evaluation = EMPTY
        self.maintenance = MaintenanceBook()
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
        self._publish(inc, at, "incident.acknowledged", result)
        return result

    def set_maintenance(self, window: MaintenanceWindow, now: Millis | None) -> StepResult:
        """Declare, change or end (`ends_at` in the past) a planned-work window; re-evaluate at
        `now` (None: no step yet, the window is only kept)."""
        self.maintenance.put(window)
        return StepResult() if now is None else self.step(now)

    def set_stale_sources(self, sources: tuple[str, ...], now: Millis) -> StepResult:
        self.stale_sources = sources
        result = StepResult()
        self._publish_summary(now, result)
        return result

    # -- the step ----------------------------------------------------------------------------

    def step(self, now: Millis) -> StepResult:
        """Re-evaluate with the current health at event time `now`."""
        topo = self.topology
        problems = self.problems
        self._maintenance_step(now)
        # Root causes too: when one incident holds every problem (a storm), its own figures are
        # these.
        g = self.evaluator.evaluate(problems, reach=True, root_causes=True)
        self.global_eval = g
        special: dict[str, EventType] = {}
        merged_now: list[_Incident] = []
        touched, self._touched = self._touched, set()
        for c in sorted(touched, key=lambda c: topo.order.get(c, -1)):
            inc_id = self.member_of.get(c)
            if inc_id is None:
                continue
            inc = self.incidents[inc_id]
            inc.dirty = True
            if c not in problems:
                inc.members.discard(c)
                inc.revision += 1
                self.member_of.pop(c, None)
                self.last_incident_of[c] = inc.id
        for inc in self._active():
            if not inc.members and inc.pending_since is None:
                inc.pending_since = now

        dropped = self.evaluator.reach_dropped()
        version = dropped[1]
        evaluator = self.evaluator

        def down_reach(inc: _Incident) -> frozenset[str]:
            """Business services the incident's problems cut customers off from, now."""
            search = inc.search
            if search is None or search.sources != inc.members or search.version != version:
                search = inc.search = evaluator.search(inc.members, True, search)
                inc.search_union = frozenset(search.services)
            return inc.search_union

        def reach(inc: _Incident) -> frozenset[str]:
            """Its down-reach; for a degraded-only incident its degraded-reach; else the last."""
            current = down_reach(inc)
            if not current:
                for m in inc.members:
                    current |= g.degraded_reach.get(m, frozenset())
            if current:
                inc.last_reach = current
            return current or inc.last_reach

        # Existing incidents whose current down-reaches overlap merge into the oldest. A
        # degraded-only problem never merges two incidents, so only down-reaches count here.
        existing = self._active()
        for i, inc in enumerate(existing):
            current = down_reach(inc) if inc.active else frozenset()
            if not current:
                continue
            for other in existing[i + 1 :]:
                if other.active and down_reach(other) & current:
                    self._merge(other, inc, now, merged_now)
                    current = down_reach(inc)

        # New problems join, reopen or open incidents: first those that cut customers off, then
        # the degraded-only ones, so that problems arriving in one step group the same way
        # whatever their order (a warning can join an incident opened in the same step).
        order = topo.order
        # Problems found unattached last step stay so unless their reaches may have changed.
        epoch, _, changed = dropped
        if (epoch, version - 1) == self._unattached_at:
            settled = {p for p in self.unattached if p in self._unplaced and p not in changed}
        else:
            settled = set()
        self._unattached_at = (epoch, version)
        new = sorted(self._unplaced - settled, key=order.__getitem__)
        degraded_only: list[str] = []
        unattached: list[str] = []
        for p in new:
            p_down = g.down_reach.get(p, frozenset())
            if not p_down:
                continue
            candidates = [inc for inc in self._active() if reach(inc) & p_down]
            if candidates:
                target = candidates[0]
                self._add(target, p)
                for other in candidates[1:]:
                    self._merge(other, target, now, merged_now)
            else:
                self._reopen_or_open([p], now, special)
        for p in new:
            if g.down_reach.get(p):
                continue
            p_degraded = g.degraded_reach.get(p, frozenset())
            if not p_degraded:
                unattached.append(p)
                continue
            joined = next(
                (inc for inc in self._active() if (inc.services | reach(inc)) & p_degraded),
                None,
            )
            if joined is not None:
                self._add(joined, p)
            else:
                degraded_only.append(p)
        for group in overlapping_groups(degraded_only, g.degraded_reach):
            self._reopen_or_open(group, now, special)
        if settled:
            unattached = sorted(settled.union(unattached), key=order.__getitem__)
        self.unattached = tuple(unattached)
        for inc in self._active():
            reach(inc)  # remember the last non-empty reach for joins while pending

        result = StepResult()
        for inc in merged_now:
            self._publish(inc, now, "incident.merged", result)
        for inc in self._active():
            if inc.members:
                inc.pending_since = None
            elif inc.pending_since is not None:
                deadline = inc.pending_since + self.settings.resolve_after
                if now >= deadline:
                    inc.status = "resolved"
                    inc.resolved_at = deadline
                    self._publish(inc, now, "incident.resolved", result)
                    continue
            self._publish(inc, now, special.get(inc.id), result)
        self._expire_ended(now, result)
        self._publish_services(now, result)
        self._publish_summary(now, result)
        return result

    def restore(
        self,
        snapshots: Iterable[IncidentSnapshot],
        health: Iterable[ComponentHealth],
        now: Millis,
    ) -> StepResult:
        """Load the last published snapshots and health records into this fresh tracker.

        Re-evaluates at `now` and returns only what differs from what was published: events for
        incidents whose snapshot changed (`seq` continues from the stored one; an incident
        already open is never opened again), plus the current service and summary records
        (idempotent on their compacted topics). The stream's impact stage calls it on start.
        """
        for record in health:
            if record.state != "healthy" or record.alert_count:
                self.health[record.id] = record
        self._sync_problems()
        problems = {c for c, h in self.health.items() if h.state != "healthy"}
        stored: dict[str, IncidentSnapshot] = {}
        for snap in sorted(snapshots, key=lambda s: (s.opened_at, s.id)):
            stored[snap.id] = snap
            members = (
                {c.id for c in snap.components if c.state != "healthy"} & problems
                if snap.status == "open"
                else set()
            )
            memberless_open = snap.status == "open" and not any(
                c.state != "healthy" for c in snap.components
            )
            inc = _Incident(
                id=snap.id,
                opened_at=snap.opened_at,
                status=snap.status,
                members=set(),
                seq=snap.seq,
                updated_at=snap.updated_at,
                resolved_at=snap.resolved_at,
                merged_into=snap.merged_into,
                pending_since=snap.updated_at if memberless_open else None,
                last_reach=frozenset(s.id for s in snap.business_services if s.impact > 0)
                or frozenset(s.id for s in snap.business_services),
                services=frozenset(s.id for s in snap.business_services),
                snapshot=snap,
                severity=snap.severity,
                peak_customers=snap.peak_customers_affected,
                peak_severity=snap.peak_severity,
                ack_by=snap.acknowledged_by,
                ack_at=snap.acknowledged_at,
                last_components=snap.components,
                last_root_causes=snap.root_causes,
                title=snap.title,
            )
            self.incidents[inc.id] = inc
            self.opened_total += 1
            for component in snap.components:
                self.last_incident_of.setdefault(component.id, inc.id)
                if inc.status != "merged":
                    self.last_incident_of[component.id] = inc.id
            for member in members:
                if member not in self.member_of:
                    self._add(inc, member)
            inc.pending_since = snap.updated_at if memberless_open else None
        result = self.step(now)
        kept = []
        for event in result.events:
            inc = self.incidents[event.incident.id]
            before = stored.get(inc.id)
            if (
                event.type == "incident.updated"
                and before is not None
                and comparable(before) == comparable(event.incident)
            ):
                # Unchanged but for rounding: keep the stored publication, emit nothing.
                inc.seq = before.seq
                inc.updated_at = before.updated_at
                inc.snapshot = replace(event.incident, seq=before.seq, updated_at=before.updated_at)
                continue
            kept.append(event)
        result.events = kept
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
            for inc in self._active()
            if inc.pending_since is not None and not inc.members
        ]
        return min(deadlines) if deadlines else None

    # -- membership --------------------------------------------------------------------------

    def _active(self) -> list[_Incident]:
        return sorted(
            (i for i in self.incidents.values() if i.active), key=lambda i: (i.opened_at, i.id)
        )

    def _add(self, inc: _Incident, problem: str) -> None:
        inc.members.add(problem)
        inc.revision += 1
        inc.dirty = True
        self._unplaced.discard(problem)
        self.member_of[problem] = inc.id
        self.last_incident_of[problem] = inc.id
        inc.pending_since = None

    def _merge(
        self, absorbed: _Incident, into: _Incident, now: Millis, merged_now: list[_Incident]
    ) -> None:
        for member in absorbed.members:
            self._add(into, member)
        absorbed.members.clear()
        absorbed.revision += 1
        absorbed.dirty = True
        absorbed.status = "merged"
        absorbed.merged_into = into.id
        absorbed.pending_since = None
        into.last_reach |= absorbed.last_reach
        if into.ack_by is None and absorbed.ack_by is not None:
            into.ack_by, into.ack_at = absorbed.ack_by, absorbed.ack_at
        merged_now.append(absorbed)

    def _final(self, incident_id: str | None) -> _Incident | None:
        inc = self.incidents.get(incident_id) if incident_id else None
        while inc is not None and inc.status == "merged" and inc.merged_into:
            inc = self.incidents.get(inc.merged_into)
        return inc

    def _reopen_or_open(
        self, problems: list[str], now: Millis, special: dict[str, EventType]
    ) -> None:
        window = self.settings.reopen_window
        best: _Incident | None = None
        for p in problems:
            inc = self._final(self.last_incident_of.get(p))
            if (
                inc is not None
                and inc.status == "resolved"
                and inc.resolved_at is not None
                and now - inc.resolved_at <= window
                and (best is None or (inc.resolved_at, inc.id) > (best.resolved_at or 0, best.id))
            ):
                best = inc
        if best is not None:
            best.status = "open"
            best.resolved_at = None
            special[best.id] = "incident.reopened"
            target = best
        else:
            target = _Incident(id=self._new_id(problems[0], now), opened_at=now)
            self.incidents[target.id] = target
            self.opened_total += 1
            special[target.id] = "incident.opened"
        for p in problems:
            self._add(target, p)

    def _new_id(self, first_problem: str, opened_at: Millis) -> str:
        counter = 0
        while True:
            text = f"{self.topology.name}|{first_problem}|{opened_at}|{counter}"
            incident_id = "inc-" + hashlib.sha256(text.encode()).hexdigest()[:12]
            if incident_id not in self.incidents:
                return incident_id
            counter += 1

    # -- figures and snapshots ---------------------------------------------------------------

    def _evaluate_members(self, inc: _Incident) -> Evaluation:
        """The incident's figures as if only its own problems existed."""
        problems: dict[str, ProblemState] = {}
        for m in inc.members:
            h = self.health.get(m)
            if h is not None and h.state != "healthy":
                problems[m] = h.state
        g = self.global_eval
        if g.problems == problems:  # one incident holds every problem: a storm
            inc.evaluator = None
            return g
        if inc.evaluator is None:
            inc.evaluator = Evaluator(
                self.topology, bound=self.settings.combination_bound, seed=self.settings.seed
            )
        ev = inc.evaluator.evaluate(problems, root_causes=True)
        if len(problems) == 1:  # the same figures as the problem alone: keep them for ordering
            ((p, state),) = problems.items()
            self._alone[(p, state)] = (ev.customers_affected, ev.customers_degraded)
        return ev

    def _ordered_roots(self, ev: Evaluation) -> tuple[str, ...]:
        """Root causes by the customers each accounts for on its own, largest first."""
        order = self.topology.order
        alone = self._alone
        if len(alone) > 65536:
            alone.clear()

        def weight(root: str) -> tuple[int, int, int]:
            key = (root, ev.problems[root])
            figures = alone.get(key)
            if figures is None:
                own = self._scratch.evaluate({root: key[1]})
                figures = alone[key] = (own.customers_affected, own.customers_degraded)
            return (-figures[0], -figures[1], order[root])

        if len(ev.root_causes) < 2:
            return tuple(ev.root_causes)
        return tuple(sorted(ev.root_causes, key=weight))

    def _build(self, inc: _Incident, now: Millis) -> IncidentSnapshot:
        topo = self.topology
        if inc.members:
            ev = self._evaluate_members(inc)
            roots = self._ordered_roots(ev)
            root_set = ev.root_causes
            components = tuple(
                self._component_entry(m, m in root_set)
                for m in sorted(inc.members, key=topo.order.__getitem__)
            )
            inc.last_components, inc.last_root_causes = components, roots
            inc.severity = severity_of(self.topology, ev, self.settings.sev1_fraction)
        else:
            ev = EMPTY
            roots = inc.last_root_causes
            components = tuple(
                ComponentEntry(
                    c.id, c.name, c.kind, "healthy", c.root_cause, c.owner, c.runbook, 0, ()
                )
                for c in inc.last_components
            )
        cached = [self._service_entry(f) for f in ev.services.values()]
        cached.sort(key=lambda c: c[0])
        service_entries = tuple(c[1] for c in cached)
        names = frozenset(ev.services)
        if names != inc.services or len(inc.services_sorted) != len(names):
            inc.services = names
            inc.services_sorted = tuple(sorted(names))
        segments = self._segment_impacts(ev)
        customers = ev.customers_affected
        if inc.members:
            inc.peak_customers = max(inc.peak_customers, customers)
            inc.peak_severity = (
                worse(inc.peak_severity, inc.severity) if inc.snapshot else inc.severity
            )
            inc.title = incident_title(
                topo, service_entries, customers, ev.customers_degraded, roots, components
            )
        return IncidentSnapshot(
            id=inc.id,
            seq=inc.seq,
            status=inc.status,
            merged_into=inc.merged_into,
            severity=inc.severity,
            title=inc.title,
            opened_at=inc.opened_at,
            updated_at=inc.updated_at,
            resolved_at=inc.resolved_at,
            as_of=now,
            customers_affected=customers,
            customers_degraded=ev.customers_degraded,
            peak_customers_affected=inc.peak_customers,
            peak_severity=inc.peak_severity,
            segments=segments,
            business_services=service_entries,
            root_causes=roots,
            components=components,
            alert_count=sum(c.alert_count for c in components),
            estimated=ev.estimated,
            acknowledged_by=inc.ack_by,
            acknowledged_at=inc.ack_at,
            topology_name=topo.name,
            topology_version=topo.version,
            planned=(
                bool(roots) and self.maintenance.planned(topo, roots, now) == frozenset(roots)
                if inc.members
                else inc.snapshot is not None and inc.snapshot.planned
            ),
        )

    def _service_entry(
        self, f: ServiceFigure
    ) -> tuple[tuple[float, float, int, int], ServiceEntry]:
        """A figure's place in an incident's list and its entry (cached per figure object)."""
        known = self._service_entries.get(id(f))
        if known is not None and known[0] is f:
            return known[1], known[2]
        if len(self._service_entries) > 65536:
            self._service_entries.clear()
        topo = self.topology
        node = topo.nodes[f.id]
        # Floats order these exactly: weights are products of shares with small denominators.
        key = (-float(f.impact), -float(f.degraded), node.tier, topo.order[f.id])
        entry = ServiceEntry(f.id, node.name, node.tier, f.impact, f.state, node.owner)
        self._service_entries[id(f)] = (f, key, entry)
        return key, entry

    def _segment_impacts(self, ev: Evaluation) -> tuple[SegmentImpact, ...]:
        """Segment figures as published, computed once per evaluation."""
        if self._segments_for[0] is not ev:
            self._segments_for = (ev, segment_impacts(self.topology, ev))
        return self._segments_for[1]

    def _component_entry(self, component: str, root: bool) -> ComponentEntry:
        h = self.health[component]
        known = self._component_entries.get(component)
        if known is not None and known[0] is h and known[1] == root:
            return known[2]
        entry = self._new_component_entry(component, h, root)
        self._component_entries[component] = (h, root, entry)
        return entry

    def _new_component_entry(
        self, component: str, h: ComponentHealth, root: bool
    ) -> ComponentEntry:
        node = self.topology.nodes[component]
        return ComponentEntry(
            id=component,
            name=node.name,
            kind=node.kind,
            state=h.state,
            root_cause=root,
            owner=node.owner,
            runbook=node.runbook,
            alert_count=h.alert_count,
            alerts=h.alerts,
        )

    def _publish(
        self, inc: _Incident, now: Millis, kind: EventType | None, result: StepResult
    ) -> None:
        if kind is None and inc.snapshot is not None and not inc.dirty:
            return  # nothing it is built from changed: the same snapshot
        inc.dirty = False
        snapshot = self._build(inc, now)
        if kind is None:
            if inc.snapshot is not None and inc.snapshot.material() == snapshot.material():
                return
            kind = "incident.updated"
        inc.seq += 1
        inc.updated_at = now
        snapshot = replace(snapshot, seq=inc.seq, updated_at=now)
        inc.snapshot = snapshot
        result.events.append(IncidentEvent(kind, inc.seq, now, snapshot))

    def _publish_services(self, now: Millis, result: StepResult) -> None:
        """Records of the business services whose figures or incidents changed."""
        topo = self.topology
        g = self.global_eval
        incidents_of: dict[str, list[str]] = {}
        for inc in self._active():
            for sid in inc.services_sorted:
                incidents_of.setdefault(sid, []).append(inc.id)
        current = {sid: tuple(ids) for sid, ids in incidents_of.items()}
        before = self._service_inputs
        if before is not None and before[0] is g and before[1] == current:
            return  # same figures, same incidents: every record would be unchanged
        self._service_inputs = (g, current)
        if before is None:
            candidates: list[str] = [node.id for node in topo.business_services]
        else:
            was, was_incidents = before[0].services, before[1]
            changed = {sid for sid, f in g.services.items() if was.get(sid) is not f}
            changed.update(sid for sid in was if sid not in g.services)
            if was_incidents != current:
                changed.update(
                    sid
                    for sid in {*was_incidents, *current}
                    if was_incidents.get(sid) != current.get(sid)
                )
            candidates = sorted(changed, key=topo.order.__getitem__)
        users = self._users
        for sid in candidates:
            node = topo.nodes[sid]
            figure = g.services.get(sid)
            previous = self._service_records.get(sid)
            if (
                figure is None
                and sid not in current
                and previous is not None
                and previous.state == "ok"
                and not previous.incidents
            ):
                continue  # ok before, ok now: the common case in a big topology
            impact = figure.impact if figure else Fraction()
            degraded = figure.degraded if figure else Fraction()
            record = ServiceImpact(
                id=sid,
                name=node.name,
                tier=node.tier,
                state=figure.state if figure else "ok",
                impact=impact,
                customers_affected=sum(round_half_up(c * impact) for c in users.get(sid, [])),
                customers_degraded=sum(round_half_up(c * degraded) for c in users.get(sid, [])),
                incidents=current.get(sid, ()),
                as_of=now,
            )
            if previous is not None and previous.material() == record.material():
                continue
            self._service_records[sid] = record
            result.services.append(record)

    def _publish_summary(self, now: Millis, result: StepResult) -> None:
        g = self.global_eval
        summary = ImpactSummary(
            as_of=now,
            customers_total=self.topology.customers_total,
            customers_affected=g.customers_affected,
            customers_degraded=g.customers_degraded,
            estimated=g.estimated,
            segments=self._segment_impacts(g),
            unattached_problems=self.unattached,
            stale_sources=self.stale_sources,
            open_incidents=len(self._active()),
            customers_affected_planned=min(
                g.customers_affected,
                sum(
                    i.snapshot.customers_affected
                    for i in self._active()
                    if i.snapshot is not None and i.snapshot.planned
                ),
            ),
        )
        if self._summary is not None and self._summary.material() == summary.material():
            return
        self._summary = summary
        result.summary = summary

    @property
    def summary(self) -> ImpactSummary | None:
        return self._summary

    def service_records(self) -> Mapping[str, ServiceImpact]:
        return self._service_records

    def open_snapshots(self) -> list[IncidentSnapshot]:
        return [i.snapshot for i in self._active() if i.snapshot is not None]

    def _set_topology(self, topology: Topology) -> None:
        self.topology = topology
        self.evaluator = Evaluator(
            topology, bound=self.settings.combination_bound, seed=self.settings.seed
        )
        self._alone = {}
        self._scratch = Evaluator(
            topology, bound=self.settings.combination_bound, seed=self.settings.seed
        )
        self._service_entries: dict[
            int, tuple[ServiceFigure, tuple[float, float, int, int], ServiceEntry]
        ] = {}
        self._component_entries: dict[str, tuple[ComponentHealth, bool, ComponentEntry]] = {}
        self._segments_for = (EMPTY, ())
        self._users: dict[str, list[int]] = {}
        for segment in topology.segments:
            for sid in segment.uses:
                self._users.setdefault(sid, []).append(segment.customers)
        self._service_inputs = None
        self.global_eval = EMPTY  # evaluations of another topology are not reused
        self._sync_problems()
        for inc in self.incidents.values():
            inc.evaluator = None
            inc.dirty = True

    def _sync_problems(self) -> None:
        """The problem set (and what is not yet placed) from `health`, from scratch."""
        nodes = self.topology.nodes
        self.problems = {
            c: h.state for c, h in self.health.items() if h.state != "healthy" and c in nodes
        }
        self._unplaced = {p for p in self.problems if p not in self.member_of}
