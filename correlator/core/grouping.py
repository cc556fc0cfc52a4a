"""Grouping problems into incidents (DESIGN §6): sticky membership, merge, reopen, open.

Functions over the tracker's state; `place` is the grouping part of one step.
"""

from __future__ import annotations

import bisect
import hashlib
from typing import TYPE_CHECKING

from correlator.core.figures import Evaluation
from correlator.core.incident import Incident
from correlator.core.presentation import overlapping_groups
from correlator.core.snapshot import EventType
from correlator.core.timefmt import Millis

if TYPE_CHECKING:
    from correlator.core.incidents import IncidentTracker


def place(
    t: IncidentTracker, g: Evaluation, now: Millis
) -> tuple[dict[str, EventType], list[Incident]]:
    """Group the problems of evaluation `g` into incidents (DESIGN §6): members that healed
    leave, incidents whose down-reaches now overlap merge into the oldest, new problems join,
    reopen or open incidents. Returns the special events due and the incidents merged away."""
    topo = t.topology
    problems = t.problems
    special: dict[str, EventType] = {}
    merged_now: list[Incident] = []
    touched, t._touched = t._touched, set()
    for c in sorted(touched, key=lambda c: topo.order.get(c, -1)):
        inc_id = t.member_of.get(c)
        if inc_id is None:
            continue
        inc = t.incidents[inc_id]
        inc.dirty = True
        inc.unevaluated.add(c)
        if c not in problems:
            inc.members.discard(c)
            inc.search_left = True
            t.member_of.pop(c, None)
            t.last_incident_of[c] = inc.id
    for inc in active(t):
        if not inc.members and inc.pending_since is None:
            inc.pending_since = now

    dropped = t.evaluator.reach_dropped()
    version = dropped[1]
    evaluator = t.evaluator

    def down_reach(inc: Incident) -> frozenset[str]:
        """Business services the incident's problems cut customers off from, now."""
        before = inc.search
        if before is None or inc.search_left or inc.search_joined or before.version != version:
            # Members that joined since: the search goes on from them (see `Evaluator.search`).
            added = None if inc.search_left else inc.search_joined
            search = inc.search = evaluator.search(inc.members, True, before, added=added)
            inc.search_joined, inc.search_left = set(), False
            # A continued search only ever reaches more services.
            if search is not before or len(search.services) != len(inc.search_union):
                inc.search_union = frozenset(search.services)
        return inc.search_union

    def degraded_reach(inc: Incident) -> frozenset[str]:
        """Business services its problems degrade or cut off (their degraded-reaches together):
        one search continued from step to step, not each member's reach searched again
        whenever a change near it forgot it (on deep graphs that was most of a step)."""
        before = inc.bad_search
        if before is None or before.version != version or before.sources != inc.members:
            search = inc.bad_search = evaluator.search(inc.members, False, before)
            if search is not before or len(search.services) != len(inc.bad_union):
                inc.bad_union = frozenset(search.services)
        return inc.bad_union

    def reach(inc: Incident) -> frozenset[str]:
        """Its down-reach; for a degraded-only incident its degraded-reach; else the last."""
        current = down_reach(inc) or degraded_reach(inc)
        if current:
            inc.last_reach = current
        return current or inc.last_reach

    # Existing incidents whose current down-reaches overlap merge into the oldest. A
    # degraded-only problem never merges two incidents, so only down-reaches count here.
    existing = active(t)
    for i, inc in enumerate(existing):
        current = down_reach(inc) if inc.active else frozenset()
        if not current:
            continue
        for other in existing[i + 1 :]:
            if other.active and down_reach(other) & current:
                merge(t, other, inc, now, merged_now)
                current = down_reach(inc)

    # New problems join, reopen or open incidents: first those that cut customers off, then
    # the degraded-only ones, so that problems arriving in one step group the same way
    # whatever their order (a warning can join an incident opened in the same step).
    order = topo.order
    # Problems found unattached last step stay so unless their reaches may have changed.
    epoch, _, changed = dropped
    if (epoch, version - 1) == t._unattached_at:  # in file order, as `t.unattached` is
        before = t._unattached_set
        leave = (before - t._unplaced) | (changed & before)  # set operations in C
        kept = [p for p in t.unattached if p not in leave] if leave else list(t.unattached)
        settled = before - leave
    else:
        kept, settled = [], frozenset()
    t._unattached_at = (epoch, version)
    new = sorted(t._unplaced - settled, key=order.__getitem__)
    degraded_only: list[str] = []
    unattached: list[str] = []
    cutting: set[str] = set()  # new problems with a down-reach
    for p in new:
        now_active = active(t)
        # Which incidents' reaches p's down-reach meets: its search stops once that is known
        # (inside a storm's region, at the first service; not a walk through the region).
        cuts, meets = evaluator.cuts_off(p, [reach(inc) for inc in now_active])
        if not cuts:
            continue
        candidates = [inc for inc, met in zip(now_active, meets, strict=True) if met]
        cutting.add(p)
        if candidates:
            target = candidates[0]
            add(t, target, p)
            for other in candidates[1:]:
                merge(t, other, target, now, merged_now)
        else:
            reopen_or_open(t, [p], now, special)
    for p in new:
        if p in cutting:
            continue
        p_degraded = g.degraded_reach.get(p, frozenset())
        if not p_degraded:
            unattached.append(p)
            continue
        joined = next(
            (inc for inc in active(t) if (inc.services | reach(inc)) & p_degraded),
            None,
        )
        if joined is not None:
            add(t, joined, p)
        else:
            degraded_only.append(p)
    for group in overlapping_groups(degraded_only, g.degraded_reach):
        reopen_or_open(t, group, now, special)
    if kept:  # two lists in file order, no problem in both: the few new ones inserted
        for p in unattached:
            bisect.insort(kept, p, key=order.__getitem__)
        unattached = kept
    t.unattached = tuple(unattached)
    t._unattached_set = frozenset(unattached)
    for inc in active(t):
        reach(inc)  # remember the last non-empty reach for joins while pending
    return special, merged_now


def active(t: IncidentTracker) -> list[Incident]:
    return sorted((i for i in t.incidents.values() if i.active), key=lambda i: (i.opened_at, i.id))


def add(t: IncidentTracker, inc: Incident, problem: str) -> None:
    inc.members.add(problem)
    inc.unevaluated.add(problem)
    inc.search_joined.add(problem)
    inc.dirty = True
    t._unplaced.discard(problem)
    t.member_of[problem] = inc.id
    t.last_incident_of[problem] = inc.id
    inc.pending_since = None


def merge(
    t: IncidentTracker, absorbed: Incident, into: Incident, now: Millis, merged_now: list[Incident]
) -> None:
    for member in absorbed.members:
        add(t, into, member)
    absorbed.members.clear()
    absorbed.search_left = True
    absorbed.dirty = True
    absorbed.status = "merged"
    absorbed.merged_into = into.id
    absorbed.pending_since = None
    into.last_reach |= absorbed.last_reach
    if into.ack_by is None and absorbed.ack_by is not None:
        into.ack_by, into.ack_at = absorbed.ack_by, absorbed.ack_at
    merged_now.append(absorbed)


def final(t: IncidentTracker, incident_id: str | None) -> Incident | None:
    inc = t.incidents.get(incident_id) if incident_id else None
    while inc is not None and inc.status == "merged" and inc.merged_into:
        inc = t.incidents.get(inc.merged_into)
    return inc


def reopen_or_open(
    t: IncidentTracker, problems: list[str], now: Millis, special: dict[str, EventType]
) -> None:
    window = t.settings.reopen_window
    best: Incident | None = None
    for p in problems:
        inc = final(t, t.last_incident_of.get(p))
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
        target = Incident(id=new_id(t, problems[0], now), opened_at=now)
        t.incidents[target.id] = target
        t.opened_total += 1
        special[target.id] = "incident.opened"
    for p in problems:
        add(t, target, p)


def new_id(t: IncidentTracker, first_problem: str, opened_at: Millis) -> str:
    counter = 0
    while True:
        text = f"{t.topology.name}|{first_problem}|{opened_at}|{counter}"
        incident_id = "inc-" + hashlib.sha256(text.encode()).hexdigest()[:12]
        if incident_id not in t.incidents:
            return incident_id
        counter += 1
