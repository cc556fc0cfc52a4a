"""Restoring the tracker after a restart from what it published (DESIGN §2)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from correlator.core import grouping
from correlator.core.health import ComponentHealth
from correlator.core.incident import Incident, StepResult
from correlator.core.presentation import comparable
from correlator.core.snapshot import IncidentSnapshot
from correlator.core.timefmt import Millis

if TYPE_CHECKING:
    from correlator.core.incidents import IncidentTracker


def restore(
    t: IncidentTracker,
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
            t.health[record.id] = record
    t._sync_problems()
    problems = {c for c, h in t.health.items() if h.state != "healthy"}
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
        inc = Incident.from_snapshot(snap)
        t.incidents[inc.id] = inc
        t.opened_total += 1
        for component in snap.components:
            t.last_incident_of.setdefault(component.id, inc.id)
            if inc.status != "merged":
                t.last_incident_of[component.id] = inc.id
        for member in members:
            if member not in t.member_of:
                grouping.add(t, inc, member)
        inc.pending_since = snap.updated_at if memberless_open else None
    result = t.step(now)
    kept = []
    for event in result.events:
        inc = t.incidents[event.incident.id]
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
