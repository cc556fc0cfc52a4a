"""An incident's own history, from its `incident.events`: what happened to it, when, and what
changed each time — the first thing a responder reads after joining a call late.

Pure (no Textual, no clock): each event is compared with the previous snapshot this war room saw
of the same incident, so "updated" says *what* was updated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from correlator.core.timefmt import TimeFormatError, parse_time
from tui.formatting import format_duration

MAX_ENTRIES: Final = 500
"""Entries kept per incident: the first (how it opened) and the newest."""
EVENT_KINDS: Final = {
    "incident.opened": "opened",
    "incident.updated": "updated",
    "incident.acknowledged": "acknowledged",
    "incident.resolved": "resolved",
    "incident.reopened": "reopened",
    "incident.merged": "merged",
}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event of one incident: its time, what kind, and what changed (short phrases)."""

    at_ms: int | None
    seq: int
    kind: str
    """opened, updated, acknowledged, resolved, reopened, merged, or absorbed (another
    incident merged into this one; `seq` is then the absorbed incident's)."""
    changes: tuple[str, ...] = ()


@dataclass(slots=True)
class IncidentTimeline:
    """The events of one incident seen so far, oldest first, without duplicates."""

    entries: list[TimelineEntry] = field(default_factory=list)
    seqs: set[int] = field(default_factory=set)
    """`seq`s of this incident's own events already listed."""
    last: Mapping[str, Any] | None = None
    """The newest snapshot seen in an event (what the next one is compared with)."""

    @property
    def missing(self) -> int:
        """Events before the first one listed that this war room never received."""
        own = [e.seq for e in self.entries if e.kind != "absorbed"]
        return max(0, min(own) - 1) if own else 0

    def add_event(
        self,
        kind: str,
        seq: int,
        at_ms: int | None,
        snapshot: Mapping[str, Any],
        known: Mapping[str, Any] | None = None,
    ) -> bool:
        """List an event of this incident; False if it was listed already. `known` is the
        snapshot the war room held before (compared with when no earlier event was seen)."""
        if seq in self.seqs:
            return False
        before = None
        for candidate in (self.last, known):
            if candidate is not None and _seq(candidate) < seq:
                before = candidate
                break
        self._insert(TimelineEntry(at_ms, seq, kind, describe(kind, before, snapshot)))
        self.seqs.add(seq)
        if self.last is None or _seq(self.last) < seq:
            self.last = snapshot
        return True

    def add_absorbed(self, other_id: str, seq: int, at_ms: int | None, customers: object) -> bool:
        """Another incident was merged into this one."""
        entry = TimelineEntry(at_ms, seq, "absorbed", _absorbed_changes(other_id, customers))
        if entry in self.entries:
            return False
        self._insert(entry)
        return True

    def _insert(self, entry: TimelineEntry) -> None:
        entries = self.entries
        key = _order(entry)
        index = len(entries)
        while index and _order(entries[index - 1]) > key:
            index -= 1
        entries.insert(index, entry)
        if len(entries) > MAX_ENTRIES:
            del entries[1]  # keep how it opened; drop the oldest update after it
            self.seqs = {e.seq for e in entries if e.kind != "absorbed"}


def _order(entry: TimelineEntry) -> tuple[int, int, int]:
    # Absorptions sort by time alone (their seq is another incident's), after own events then.
    absorbed = entry.kind == "absorbed"
    return (entry.at_ms or 0, 1 if absorbed else 0, 0 if absorbed else entry.seq)


def _seq(snapshot: Mapping[str, Any]) -> int:
    seq = snapshot.get("seq")
    return seq if isinstance(seq, int) else -1


def _absorbed_changes(other_id: str, customers: object) -> tuple[str, ...]:
    changes = [f"absorbed {other_id}"]
    if isinstance(customers, int) and customers:
        changes.append(f"its {customers:,} customers")
    return tuple(changes)


def event_time_ms(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except TimeFormatError:
        return None


def describe(
    kind: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> tuple[str, ...]:
    """What an event says, in short phrases: the figures an incident opened with, or what
    changed since `before` (None: the previous snapshot was never seen)."""
    if kind == "opened":
        return _opening(after)
    if kind == "merged":
        into = after.get("merged_into")
        return (f"into {into}",) if into else ()
    if kind == "acknowledged":
        by = after.get("acknowledged_by")
        return (f"by {by}",) if by else ()
    changes: list[str] = []
    if kind == "resolved":
        opened = event_time_ms(after.get("opened_at"))
        resolved = event_time_ms(after.get("resolved_at"))
        if opened is not None and resolved is not None:
            changes.append(f"after {format_duration(resolved - opened)}")
        peak = after.get("peak_customers_affected")
        if isinstance(peak, int) and peak:
            changes.append(f"peak {peak:,} customers")
        return tuple(changes)
    if before is None:
        return ("earlier state not received",) if kind == "updated" else _opening(after)
    return tuple(changes_between(before, after))


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Severity, customers, services, root causes, components, alerts, planned, ack."""
    changes: list[str] = []
    if before.get("severity") != after.get("severity"):
        changes.append(f"{before.get('severity')} → {after.get('severity')}")
    for key, word in (("customers_affected", "customers"), ("customers_degraded", "degraded")):
        a, b = before.get(key), after.get(key)
        if a != b and isinstance(a, int) and isinstance(b, int):
            changes.append(f"{word} {a:,} → {b:,}")
    for key, word in (
        ("business_services", "services"),
        ("root_causes", "root cause"),
        ("components", "components"),
    ):
        added, removed = _set_change(_ids(before.get(key)), _ids(after.get(key)))
        if added or removed:
            changes.append(
                word + " " + " ".join([*(f"+{i}" for i in added), *(f"−{i}" for i in removed)])
            )
    a, b = before.get("alert_count"), after.get("alert_count")
    if a != b and isinstance(a, int) and isinstance(b, int):
        changes.append(f"alerts {a} → {b}")
    if bool(before.get("planned")) != bool(after.get("planned")):
        changes.append("planned work" if after.get("planned") else "no longer planned")
    if after.get("acknowledged_by") and not before.get("acknowledged_by"):
        changes.append(f"acknowledged by {after.get('acknowledged_by')}")
    return changes


def _ids(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for item in value:
        if isinstance(item, dict):
            out.append(str(item.get("id", "?")))
        elif item is not None:
            out.append(str(item))
    return out


def _set_change(before: Sequence[str], after: Sequence[str]) -> tuple[list[str], list[str]]:
    old, new = set(before), set(after)
    return [i for i in after if i not in old], [i for i in before if i not in new]


def _opening(snapshot: Mapping[str, Any]) -> tuple[str, ...]:
    changes: list[str] = []
    if snapshot.get("severity"):
        changes.append(str(snapshot["severity"]))
    customers = snapshot.get("customers_affected")
    if isinstance(customers, int):
        changes.append(f"{customers:,} customers")
    roots = _ids(snapshot.get("root_causes"))
    if roots:
        changes.append("root cause " + ", ".join(roots))
    return tuple(changes)
