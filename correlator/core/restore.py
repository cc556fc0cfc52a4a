"""Rebuilding core state after a restart: alert books and incident trackers from their records.

The stream stages keep their state in memory and in compacted Kafka topics. On start (or when a
partition moves to this worker) they read those records back and hand them to the functions here,
which rebuild the same core objects `correlator replay` drives — so a restarted worker continues
each incident (same id, `seq` + 1) instead of opening it again. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from fractions import Fraction

from correlator.core.alert_state import AlertBook, _Tracked
from correlator.core.alerts import Alert
from correlator.core.health import ComponentHealth
from correlator.core.incidents import IncidentTracker, StepResult, _Incident
from correlator.core.snapshot import IncidentSnapshot
from correlator.core.timefmt import Millis

# -- alert state ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackedAlert:
    """What the alert-state stage persists per fingerprint (written only when it changes)."""

    fingerprint: str
    component: str
    active: bool
    last_change: Millis
    alert: Alert
    deadline: Millis | None


def tracked_alert(book: AlertBook, fingerprint: str) -> TrackedAlert | None:
    """The book's current state of one fingerprint, to persist after a change."""
    t = book._alerts.get(fingerprint)
    if t is None:
        return None
    return TrackedAlert(fingerprint, t.component, t.active, t.last_change, t.alert, t.deadline)


def restore_alert_book(entries: Iterable[TrackedAlert]) -> AlertBook:
    """An `AlertBook` holding exactly `entries` (expiry deadlines rescheduled)."""
    book = AlertBook()
    for e in entries:
        book._alerts[e.fingerprint] = _Tracked(
            e.component, e.active, e.last_change, e.alert, e.deadline
        )
        if e.active:
            book._schedule(e.deadline, e.fingerprint)
    return book


def tracked_alerts(book: AlertBook) -> list[TrackedAlert]:
    """Every fingerprint the book knows (for re-announcing state after a restore)."""
    return [
        TrackedAlert(fp, t.component, t.active, t.last_change, t.alert, t.deadline)
        for fp, t in book._alerts.items()
    ]


# -- incidents -----------------------------------------------------------------------------------


def _comparable(snapshot: IncidentSnapshot) -> IncidentSnapshot:
    """A snapshot as its JSON record shows it: impacts to 6 decimals, no per-publication fields."""
    services = tuple(
        replace(s, impact=Fraction(str(round(float(s.impact), 6))))
        for s in snapshot.business_services
    )
    return replace(snapshot.material(), business_services=services)


def restore_incidents(
    tracker: IncidentTracker,
    snapshots: Iterable[IncidentSnapshot],
    health: Iterable[ComponentHealth],
    now: Millis,
) -> StepResult:
    """Load the last published snapshot of every incident and the last health of every component
    into a fresh `tracker`, re-evaluate at `now`, and return only what differs from what was
    published: events for incidents whose snapshot changed (`seq` continues from the stored one;
    an incident already open is never opened again), plus the current service and summary
    records (idempotent on their compacted topics).
    """
    for record in health:
        if record.state != "healthy" or record.alert_count:
            tracker.health[record.id] = record
    problems = {c for c, h in tracker.health.items() if h.state != "healthy"}
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
        tracker.incidents[inc.id] = inc
        tracker.opened_total += 1
        for component in snap.components:
            tracker.last_incident_of.setdefault(component.id, inc.id)
            if inc.status != "merged":
                tracker.last_incident_of[component.id] = inc.id
        for member in members:
            if member not in tracker.member_of:
                tracker._add(inc, member)
        inc.pending_since = snap.updated_at if memberless_open else None
    result = tracker.step(now)
    kept = []
    for event in result.events:
        inc = tracker.incidents[event.incident.id]
        before = stored.get(inc.id)
        if (
            event.type == "incident.updated"
            and before is not None
            and _comparable(before) == _comparable(event.incident)
        ):
            # Unchanged but for rounding: keep the stored publication, emit nothing.
            inc.seq = before.seq
            inc.updated_at = before.updated_at
            inc.snapshot = replace(event.incident, seq=before.seq, updated_at=before.updated_at)
            continue
        kept.append(event)
    result.events = kept
    return result
