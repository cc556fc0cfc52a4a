"""Publication (DESIGN §6): incident snapshots and events, service records, the summary.

Everything here reads the tracker's state and evaluations; snapshots are rebuilt only for
incidents whose inputs changed, from entries cached per health record and figure.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import replace
from fractions import Fraction
from typing import TYPE_CHECKING

from correlator.core import grouping
from correlator.core.alone import alone_figures, alone_figures_of
from correlator.core.evaluator import Evaluator
from correlator.core.figures import (
    EMPTY,
    Evaluation,
    ProblemState,
    SegmentFigure,
    ServiceFigure,
    round_half_up,
)
from correlator.core.health import ComponentHealth
from correlator.core.incident import Incident, RootOrder, ServiceKey, ServiceOrder, StepResult
from correlator.core.presentation import (
    incident_title,
    segment_impact,
    segment_order,
    severity_of,
)
from correlator.core.snapshot import (
    ComponentEntry,
    EventType,
    ImpactSummary,
    IncidentEvent,
    IncidentSnapshot,
    SegmentImpact,
    ServiceEntry,
    ServiceImpact,
    worse,
)
from correlator.core.timefmt import Millis

if TYPE_CHECKING:
    from correlator.core.incidents import IncidentTracker


def evaluate_members(t: IncidentTracker, inc: Incident, changed: set[str]) -> Evaluation:
    """The incident's figures as if only its own problems existed.

    Its problems are updated from `changed`, the members that joined, left or changed state
    since its last evaluation (a storm's incident has thousands and a step changes a few)."""
    own = inc.problems
    if own is None:
        # Built in C: the members with a problem.
        ill = inc.members & t.problems.keys()
        problems: dict[str, ProblemState] = dict(
            zip(ill, map(t.problems.__getitem__, ill), strict=True)
        )
        since: set[str] | None = None
    else:
        problems = dict(own)  # a new dict: the evaluator keeps the last one
        for c in changed:
            state = t.problems.get(c) if c in inc.members else None
            if state is None:
                problems.pop(c, None)
            else:
                problems[c] = state
        since = changed
    inc.problems = problems
    g = t.global_eval
    if g.problems == problems:  # one incident holds every problem (a storm): the global figures
        inc.evaluator = None
        return g
    if inc.evaluator is None:
        inc.evaluator = Evaluator(
            t.topology, bound=t.settings.combination_bound, seed=t.settings.seed
        )
        since = None
    ev = inc.evaluator.evaluate(problems, root_causes=True, since_last=since)
    if len(problems) == 1:  # the same figures as the problem alone: keep them for ordering
        ((p, state),) = problems.items()
        t._alone[(p, state)] = (ev.customers_affected, ev.customers_degraded)
    return ev


def ordered_roots(
    t: IncidentTracker,
    ev: Evaluation,
    inc: Incident | None = None,
    changed: set[str] | None = None,
) -> tuple[str, ...]:
    """Root causes by the customers each accounts for on its own, largest first (ties in file
    order). With `inc`, its last order is updated by the roots that came, went or changed
    state (a storm's incident has thousands of roots and a step changes a few); `changed`,
    when known, holds every problem whose state may differ from that last order's."""
    if len(ev.root_causes) < 2:
        if inc is not None:
            inc.root_order = None  # not kept up to date meanwhile
        return tuple(ev.root_causes)
    known = None if inc is None else inc.root_order
    roots = ev.root_causes
    if known is not None:
        # Set operations on the views run in C: no walk over every root in Python.
        if changed is None:
            stale = {r for r, _ in known.states.items() - ev.problems.items()}
        else:
            states_now = ev.problems
            stale = {
                r for r in changed if r in known.states and known.states[r] != states_now.get(r)
            }
        gone = (known.states.keys() - roots) | stale  # gone, or in another state now
        came = (roots - known.states.keys()) | (stale & roots)
        if len(gone) + len(came) > 64:
            known = None
    if known is None:
        weights = _root_weights(t, ev, roots)
        order = sorted(roots, key=weights.__getitem__)
        if inc is not None:
            inc.root_order = RootOrder({r: ev.problems[r] for r in roots}, weights, order)
        return tuple(order)
    states, weights, order = known.states, known.weights, known.order
    for r in gone:
        order.remove(r)
        del states[r], weights[r]
    weights.update(_root_weights(t, ev, came))
    for r in came:
        states[r] = ev.problems[r]
        bisect.insort(order, r, key=weights.__getitem__)
    return tuple(order)


def _root_weights(
    t: IncidentTracker, ev: Evaluation, roots: Iterable[str]
) -> dict[str, tuple[int, int, int]]:
    """Each root's sort key: minus what it accounts for alone (affected, degraded), then its
    place in the file."""
    order = t.topology.order
    alone = t._alone
    if len(alone) > 65536:
        alone.clear()
    missing = {r: ev.problems[r] for r in roots if (r, ev.problems[r]) not in alone}
    if len(missing) > 1:  # all at once where that is exact (see core/alone.py)
        for root, figures in alone_figures(t.topology, missing).items():
            alone[(root, missing[root])] = figures
    for root, state in missing.items():  # one by one: a pass over the root's upstream
        if (root, state) not in alone:
            own = alone_figures_of(t.topology, root, state, t.settings.combination_bound)
            if own is not None:
                alone[(root, state)] = own

    def weight(root: str) -> tuple[int, int, int]:
        key = (root, ev.problems[root])
        figures = alone.get(key)
        if figures is None:
            # More combinations than the bound: the evaluator samples them, as it would.
            alone_evaluator = Evaluator(
                t.topology, bound=t.settings.combination_bound, seed=t.settings.seed
            )
            own = alone_evaluator.evaluate({root: key[1]})
            figures = alone[key] = (own.customers_affected, own.customers_degraded)
        return (-figures[0], -figures[1], order[root])

    return {r: weight(r) for r in roots}


def build(t: IncidentTracker, inc: Incident, now: Millis) -> IncidentSnapshot:
    topo = t.topology
    if inc.members:
        changed, inc.unevaluated = inc.unevaluated, set()
        ev = evaluate_members(t, inc, changed)
        roots = ordered_roots(t, ev, inc, changed)
        components, alert_count = component_entries(t, inc, ev.root_causes, changed)
        inc.last_components, inc.last_root_causes = components, roots
        inc.severity = severity_of(t.topology, ev, t.settings.sev1_fraction)
    else:
        ev = EMPTY
        roots = inc.last_root_causes
        components = tuple(
            ComponentEntry(c.id, c.name, c.kind, "healthy", c.root_cause, c.owner, c.runbook, 0, ())
            for c in inc.last_components
        )
        alert_count = 0
    service_entries = services_in_order(t, inc, ev)
    names = frozenset(ev.services)
    if names != inc.services or len(inc.services_sorted) != len(names):
        inc.services = names
        inc.services_sorted = tuple(sorted(names))
    segments = segment_figures(t, ev)
    customers = ev.customers_affected
    if inc.members:
        inc.peak_customers = max(inc.peak_customers, customers)
        inc.peak_severity = worse(inc.peak_severity, inc.severity) if inc.snapshot else inc.severity
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
        alert_count=alert_count,
        estimated=ev.estimated,
        acknowledged_by=inc.ack_by,
        acknowledged_at=inc.ack_at,
        topology_name=topo.name,
        topology_version=topo.version,
        planned=(
            bool(roots) and t.maintenance.planned(topo, roots, now) == frozenset(roots)
            if inc.members
            else inc.snapshot is not None and inc.snapshot.planned  # ended: as it ended
        ),
    )


def services_in_order(
    t: IncidentTracker, inc: Incident, ev: Evaluation
) -> tuple[ServiceEntry, ...]:
    """The incident's business-service entries, most affected first. Updated from the order of
    the evaluation before when `ev` says what changed since (a storm's incident has thousands
    of services and a step changes a few), sorted whole otherwise."""
    known = inc.service_order
    if known is not None and ev.serial:
        if known.serial == ev.serial:
            return known.published
        if ev.previous_serial == known.serial and len(ev.services_changed) <= 256:
            keys, entries, key_of = known.keys, known.entries, known.key_of
            for sid in ev.services_changed:
                old = key_of.pop(sid, None)
                if old is not None:
                    i = bisect.bisect_left(keys, old)
                    del keys[i], entries[i]
                figure = ev.services.get(sid)
                if figure is not None:
                    key, entry = service_entry(t, figure)
                    i = bisect.bisect_left(keys, key)
                    keys.insert(i, key)
                    entries.insert(i, entry)
                    key_of[sid] = key
            known.serial = ev.serial
            known.published = tuple(entries)
            return known.published
    cached = sorted((service_entry(t, f) for f in ev.services.values()), key=lambda c: c[0])
    keys = [key for key, _ in cached]
    entries = [entry for _, entry in cached]
    key_of = {entry.id: key for key, entry in cached}
    inc.service_order = ServiceOrder(ev.serial, keys, entries, key_of, tuple(entries))
    return inc.service_order.published


def service_entry(t: IncidentTracker, f: ServiceFigure) -> tuple[ServiceKey, ServiceEntry]:
    """A figure's place in an incident's list and its entry (cached per figure object)."""
    known = t._service_entries.get(id(f))
    if known is not None and known[0] is f:
        return known[1], known[2]
    if len(t._service_entries) > 65536:
        t._service_entries.clear()
    topo = t.topology
    node = topo.nodes[f.id]
    # Floats order these exactly: weights are products of shares with small denominators.
    key = (-float(f.impact), -float(f.degraded), node.tier, topo.order[f.id])
    entry = ServiceEntry(f.id, node.name, node.tier, f.impact, f.state, node.owner)
    t._service_entries[id(f)] = (f, key, entry)
    return key, entry


def segment_figures(t: IncidentTracker, ev: Evaluation) -> tuple[SegmentImpact, ...]:
    """Segment figures as published, most affected first; computed once per evaluation (each
    incident's and the global one alternate within a step), and updated from the order of the
    evaluation before by the segments `ev` changed when that order is at hand."""
    done = t._segments_for.get(id(ev))
    if done is not None and done[0] is ev:
        return done[1]
    chains = t._segment_chains
    chain = chains.pop(ev.previous_serial, None) if ev.serial else None
    if chain is not None and len(ev.segments_changed) <= 256:
        keys, impacts, key_of = chain
        for sid in ev.segments_changed:
            old = key_of.pop(sid, None)
            if old is not None:
                i = bisect.bisect_left(keys, old)
                del keys[i], impacts[i]
            figure = ev.segments.get(sid)
            entry = None if figure is None else _segment_entry(t, figure)
            if entry is not None:
                i = bisect.bisect_left(keys, entry[0])
                keys.insert(i, entry[0])
                impacts.insert(i, entry[1])
                key_of[sid] = entry[0]
    else:
        entries = [e for f in ev.segments.values() if (e := _segment_entry(t, f)) is not None]
        entries.sort()  # keys are unique (they end with the id): impacts are never compared
        keys = [key for key, _ in entries]
        impacts = [impact for _, impact in entries]
        key_of = {impact.id: key for key, impact in entries}
    if ev.serial:
        if len(chains) > 64:
            chains.clear()
        chains[ev.serial] = (keys, impacts, key_of)
    if len(t._segments_for) > 64:  # each keeps its evaluation alive
        t._segments_for.clear()
    published = tuple(impacts)
    t._segments_for[id(ev)] = (ev, published)
    return published


def _segment_entry(
    t: IncidentTracker, figure: SegmentFigure
) -> tuple[tuple[int, int, str], SegmentImpact] | None:
    """A segment figure's place in the list and its published entry; None when nobody in the
    segment is affected or degraded (cached per figure object)."""
    known = t._segment_entries
    cached = known.get(id(figure))
    if cached is None or cached[0] is not figure:  # figures are replaced, never changed
        if len(known) > 65536:
            known.clear()
        impact = segment_impact(t.topology, figure)
        cached = known[id(figure)] = (
            figure,
            None if impact is None else (segment_order(impact), impact),
        )
    return cached[1]


def component_entries(
    t: IncidentTracker, inc: Incident, roots: frozenset[str], changed: set[str]
) -> tuple[tuple[ComponentEntry, ...], int]:
    """The incident's component entries in file order and their alerts summed: the last ones,
    changed only for the members that joined, left or whose health changed (`changed`), or
    that became or ceased to be a root cause."""
    listed = inc.listed
    members = inc.members
    order = t.topology.order
    candidates = None
    if listed.roots is not None:
        candidates = changed | (listed.roots ^ roots)
    listed.roots = roots
    if candidates is None or len(candidates) > 64 + len(listed.entries) // 8:
        ids = sorted(members, key=order.__getitem__)
        listed.places = [order[m] for m in ids]
        listed.entries = [component_entry(t, m, m in roots) for m in ids]
        listed.alerts = sum(e.alert_count for e in listed.entries)
        return tuple(listed.entries), listed.alerts
    places, entries = listed.places, listed.entries
    for c in candidates:
        place = order.get(c)
        if place is None:
            continue  # not in the topology: never a member
        i = bisect.bisect_left(places, place)
        if i < len(places) and places[i] == place:
            listed.alerts -= entries[i].alert_count
            if c in members:
                entries[i] = component_entry(t, c, c in roots)
                listed.alerts += entries[i].alert_count
            else:
                del places[i], entries[i]
        elif c in members:
            entry = component_entry(t, c, c in roots)
            places.insert(i, place)
            entries.insert(i, entry)
            listed.alerts += entry.alert_count
    return tuple(entries), listed.alerts


def component_entry(t: IncidentTracker, component: str, root: bool) -> ComponentEntry:
    h = t.health[component]
    known = t._component_entries.get(component)
    if known is not None and known[0] is h and known[1] == root:
        return known[2]
    entry = new_component_entry(t, component, h, root)
    t._component_entries[component] = (h, root, entry)
    return entry


def new_component_entry(
    t: IncidentTracker, component: str, h: ComponentHealth, root: bool
) -> ComponentEntry:
    node = t.topology.nodes[component]
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


def publish(
    t: IncidentTracker, inc: Incident, now: Millis, kind: EventType | None, result: StepResult
) -> None:
    if kind is None and inc.snapshot is not None and not inc.dirty:
        return  # nothing it is built from changed: the same snapshot
    inc.dirty = False
    snapshot = build(t, inc, now)
    if kind is None:
        if inc.snapshot is not None and inc.snapshot.material() == snapshot.material():
            return
        kind = "incident.updated"
    inc.seq += 1
    inc.updated_at = now
    snapshot = replace(snapshot, seq=inc.seq, updated_at=now)
    inc.snapshot = snapshot
    result.events.append(IncidentEvent(kind, inc.seq, now, snapshot))


def publish_services(t: IncidentTracker, now: Millis, result: StepResult) -> None:
    """Records of the business services whose figures or incidents changed."""
    topo = t.topology
    g = t.global_eval
    current = incidents_by_service(t)
    before = t._service_inputs
    if before is not None and before[0] is g and before[1] is current:
        return  # same figures, same incidents: every record would be unchanged
    t._service_inputs = (g, current)
    if before is None:
        candidates: list[str] = [node.id for node in topo.business_services]
    else:
        was, was_incidents = before[0].services, before[1]
        if g.serial and g.previous_serial == before[0].serial:
            changed = set(g.services_changed)  # the evaluator knows: no pass over every service
        else:
            changed = {sid for sid, f in g.services.items() if was.get(sid) is not f}
            changed.update(sid for sid in was if sid not in g.services)
        if was_incidents is not current:
            changed.update(
                sid
                for sid in {*was_incidents, *current}
                if was_incidents.get(sid) != current.get(sid)
            )
        candidates = sorted(changed, key=topo.order.__getitem__)
    users = t._users
    for sid in candidates:
        node = topo.nodes[sid]
        figure = g.services.get(sid)
        previous = t._service_records.get(sid)
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
        t._service_records[sid] = record
        result.services.append(record)


def incidents_by_service(t: IncidentTracker) -> dict[str, tuple[str, ...]]:
    """Business service id → ids of the active incidents on it; the same object while no
    active incident's services changed (rebuilt only then, not every step)."""
    active = grouping.active(t)
    key = tuple((inc.id, inc.services_sorted) for inc in active)
    known = t._incidents_by_service
    if (
        known is not None
        and len(known[0]) == len(key)
        and all(a[0] == b[0] and a[1] is b[1] for a, b in zip(known[0], key, strict=True))
    ):
        return known[1]
    incidents_of: dict[str, list[str]] = {}
    for inc in active:
        for sid in inc.services_sorted:
            incidents_of.setdefault(sid, []).append(inc.id)
    current = {sid: tuple(ids) for sid, ids in incidents_of.items()}
    t._incidents_by_service = (key, current)
    return current


def publish_summary(t: IncidentTracker, now: Millis, result: StepResult) -> None:
    g = t.global_eval
    summary = ImpactSummary(
        as_of=now,
        customers_total=t.topology.customers_total,
        customers_affected=g.customers_affected,
        customers_degraded=g.customers_degraded,
        estimated=g.estimated,
        segments=segment_figures(t, g),
        unattached_problems=t.unattached,
        stale_sources=t.stale_sources,
        open_incidents=len(grouping.active(t)),
        customers_affected_planned=min(
            g.customers_affected,
            sum(
                i.snapshot.customers_affected
                for i in grouping.active(t)
                if i.snapshot is not None and i.snapshot.planned
            ),
        ),
    )
    if t._summary is not None and t._summary.material() == summary.material():
        return
    t._summary = summary
    result.summary = summary
