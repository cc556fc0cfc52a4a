"""The war room's model: a pure fold of feed records into what the screens show.

No Textual, no asyncio, no clock reads: every method that needs "now" takes it as an argument, so
the same records and the same `now_ms` always give the same view (the snapshot tests rely on it).
The app applies records as they arrive and repaints on a timer when `dirty` is set (coalescing).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from correlator.core.timefmt import MINUTE, SECOND, TimeFormatError, parse_time
from correlator.records import (
    TOPIC_ALERTS_UNMAPPED,
    TOPIC_IMPACT_SUMMARY,
    TOPIC_INCIDENT_ACTIONS,
    TOPIC_INCIDENT_EVENTS,
    TOPIC_INCIDENTS,
    TOPIC_SERVICE_IMPACT,
    Record,
)
from tui.formatting import format_duration
from tui.timeline import EVENT_KINDS, IncidentTimeline

IncidentSeverity = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
SEVERITIES: Final[tuple[IncidentSeverity, ...]] = ("SEV1", "SEV2", "SEV3", "SEV4")
SortKey = Literal["severity", "customers", "newest", "updated"]
SORT_KEYS: Final[tuple[SortKey, ...]] = ("severity", "customers", "newest", "updated")

HISTORY_WINDOW_MS: Final = 30 * MINUTE
"""How far back the customers-affected sparkline reaches."""
LAG_STALE_SECONDS: Final = 30.0
"""DESIGN §6: the war room shows STALE when `ingest_lag_seconds` passes this."""
SUMMARY_SILENCE_MS: Final = 2 * MINUTE
"""No `impact.summary` for this long (or none since start) also means STALE: a dead pipeline
must never look like an all-clear. The impact stage republishes the summary on clock ticks."""

Snapshot = dict[str, Any]
LabelSet = tuple[tuple[str, str], ...]


def event_ms(value: object) -> int | None:
    """An RFC 3339 field as epoch milliseconds, or None when absent or malformed."""
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except TimeFormatError:
        return None


def severity_rank(snapshot: Mapping[str, Any]) -> int:
    """0 for SEV1 … 3 for SEV4; unknown severities sort last."""
    sev = snapshot.get("severity")
    return SEVERITIES.index(sev) if sev in SEVERITIES else len(SEVERITIES)


def customers(snapshot: Mapping[str, Any]) -> int:
    value = snapshot.get("customers_affected")
    return value if isinstance(value, int) else 0


@dataclass(slots=True)
class UnmappedGroup:
    """Unmapped alerts that carry the same label set: one gap in the topology."""

    labels: LabelSet
    count: int = 0
    fingerprints: set[str] = field(default_factory=set)
    last_summary: str = ""
    last_seen_ms: int | None = None


@dataclass(slots=True)
class WarRoomState:
    """Everything the war room shows, folded from records; `dirty` is set by every change."""

    incidents: dict[str, Snapshot] = field(default_factory=dict)
    """Latest snapshot per incident id (any status); older or repeated `seq` are dropped."""
    timelines: dict[str, IncidentTimeline] = field(default_factory=dict)
    """Each incident's events seen on `incident.events`, with what changed (tui/timeline.py)."""
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Latest `service.impact` value per business service id."""
    summary: dict[str, Any] | None = None
    summary_seen_ms: int | None = None
    """`now` when the latest summary was applied (for the silence rule)."""
    started_ms: int | None = None
    """`now` when the first record (of any kind) was applied, or set by the app at start."""
    history: deque[tuple[int, int]] = field(default_factory=deque)
    """(summary as_of, customers affected), oldest first, trimmed to HISTORY_WINDOW_MS."""
    unmapped: dict[LabelSet, UnmappedGroup] = field(default_factory=dict)
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Planned-work windows seen on `incident.actions`, the latest record per id."""
    latest_event_ms: int = 0
    """The newest event time seen in any record (the "event clock" for replays)."""
    sort_key: SortKey = "severity"
    filter_text: str = ""
    pending_acks: dict[str, str] = field(default_factory=dict)
    """Acknowledgements sent by this responder and not yet reflected in a snapshot."""
    applied: int = 0
    rejected: int = 0
    """Records that could not be understood (wrong shape); counted, never fatal."""
    dirty: bool = False

    # -- folding -------------------------------------------------------------------------------

    def apply(self, record: Record, now_ms: int | None) -> bool:
        """Fold one record; True if it changed anything. Malformed ones are counted, not raised.

        `now_ms` None means the event clock (replays): "now" is the newest event time seen,
        this record's included, so a record is never judged against the clock before it.
        """
        try:
            changed = self._apply(record, now_ms)
        except (TypeError, ValueError, AttributeError, KeyError):
            self.rejected += 1
            return False
        finally:
            if self.started_ms is None and (now_ms is not None or self.latest_event_ms):
                self.started_ms = self.latest_event_ms if now_ms is None else now_ms
        self.applied += 1
        if changed:
            self.dirty = True
        return changed

    def apply_all(self, records: Iterable[Record], now_ms: int | None) -> None:
        for record in records:
            self.apply(record, now_ms)

    def _apply(self, record: Record, now_ms: int | None) -> bool:
        topic, value = record.topic, record.value
        if topic == TOPIC_INCIDENTS:
            if value is None:
                self.timelines.pop(record.key, None)
                return self.incidents.pop(record.key, None) is not None
            return self._apply_snapshot(value)
        if topic == TOPIC_INCIDENT_EVENTS:
            if value is None:
                return False
            snapshot = value["incident"]
            if not isinstance(snapshot, dict):
                raise TypeError("incident event without a snapshot")
            listed = self._apply_event(value, snapshot)
            return self._apply_snapshot(snapshot) or listed
        if topic == TOPIC_SERVICE_IMPACT:
            if value is None:
                return self.services.pop(record.key, None) is not None
            if not isinstance(value.get("id", record.key), str):
                raise TypeError("service.impact without an id")
            self.services[record.key] = value
            self._see_time(value.get("as_of"))
            return True
        if topic == TOPIC_IMPACT_SUMMARY:
            if value is None:
                return False
            self._apply_summary(value, now_ms)
            return True
        if topic == TOPIC_ALERTS_UNMAPPED:
            if value is None:
                return False
            self._apply_unmapped(value)
            return True
        if topic == TOPIC_INCIDENT_ACTIONS:
            if value is None or value.get("type") != "maintenance":
                return False  # acknowledgements show in the snapshots
            if not isinstance(value.get("id"), str) or event_ms(value.get("ends_at")) is None:
                raise TypeError("maintenance window without an id or an end")
            self.windows[value["id"]] = value
            return True
        return False

    def _apply_snapshot(self, snapshot: Snapshot) -> bool:
        incident_id, seq = snapshot["id"], snapshot["seq"]
        if not isinstance(incident_id, str) or not isinstance(seq, int):
            raise TypeError("incident snapshot without a string id and an integer seq")
        known = self.incidents.get(incident_id)
        if known is not None and known["seq"] >= seq:
            return False
        self.incidents[incident_id] = snapshot
        if snapshot.get("acknowledged_by"):
            self.pending_acks.pop(incident_id, None)
        self._see_time(snapshot.get("as_of") or snapshot.get("updated_at"))
        return True

    def _apply_event(self, event: Mapping[str, Any], snapshot: Snapshot) -> bool:
        """List the event on its incident's timeline (and an absorption on the survivor's)."""
        incident_id, seq = snapshot.get("id"), event.get("seq", snapshot.get("seq"))
        if not isinstance(incident_id, str) or not isinstance(seq, int):
            raise TypeError("incident event without a string id and an integer seq")
        kind = EVENT_KINDS.get(str(event.get("type")), str(event.get("type")))
        at = event_ms(event.get("at")) or event_ms(snapshot.get("updated_at"))
        timeline = self.timelines.get(incident_id)
        if timeline is None:
            timeline = self.timelines[incident_id] = IncidentTimeline()
        listed = timeline.add_event(kind, seq, at, snapshot, self.incidents.get(incident_id))
        into = snapshot.get("merged_into")
        if kind == "merged" and isinstance(into, str) and into:
            survivor = self.timelines.get(into)
            if survivor is None:
                survivor = self.timelines[into] = IncidentTimeline()
            survivor.add_absorbed(incident_id, seq, at, snapshot.get("customers_affected"))
        return listed

    def _apply_summary(self, value: dict[str, Any], now_ms: int | None) -> None:
        if not isinstance(value.get("customers_affected", 0), int):
            raise TypeError("impact.summary customers_affected is not an integer")
        self.summary = value
        as_of = event_ms(value.get("as_of"))
        self._see_time(value.get("as_of"))
        self.summary_seen_ms = self.latest_event_ms if now_ms is None else now_ms
        if as_of is None:
            return
        if self.history and as_of < self.history[-1][0]:
            return  # a late duplicate: the sparkline only moves forward
        if self.history and self.history[-1][0] == as_of:
            self.history.pop()
        self.history.append((as_of, customers(value)))
        # Keep one point older than the window so the first bucket has a value to carry.
        while len(self.history) > 1 and self.history[1][0] <= as_of - HISTORY_WINDOW_MS:
            self.history.popleft()

    def _apply_unmapped(self, value: dict[str, Any]) -> None:
        # `alerts.unmapped` carries the canonical alert, either nested under "alert" or flat.
        alert = value.get("alert", value)
        raw_labels = alert.get("labels") or {}
        if not isinstance(raw_labels, dict):
            raise TypeError("unmapped alert labels are not an object")
        labels: LabelSet = tuple(sorted((str(k), str(v)) for k, v in raw_labels.items()))
        group = self.unmapped.get(labels)
        if group is None:
            group = self.unmapped[labels] = UnmappedGroup(labels)
        group.count += 1
        fingerprint = alert.get("fingerprint")
        if isinstance(fingerprint, str) and len(group.fingerprints) < 10_000:
            group.fingerprints.add(fingerprint)
        summary = alert.get("summary")
        if isinstance(summary, str) and summary:
            group.last_summary = summary
        seen = event_ms(alert.get("received_at")) or event_ms(alert.get("starts_at"))
        if seen is not None:
            group.last_seen_ms = max(seen, group.last_seen_ms or seen)
            self.latest_event_ms = max(self.latest_event_ms, seen)

    def _see_time(self, value: object) -> None:
        t = event_ms(value)
        if t is not None and t > self.latest_event_ms:
            self.latest_event_ms = t

    # -- user actions --------------------------------------------------------------------------

    def cycle_sort(self) -> SortKey:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.dirty = True
        return self.sort_key

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.dirty = True

    def mark_ack_pending(self, incident_id: str, by: str) -> None:
        self.pending_acks[incident_id] = by
        self.dirty = True

    def clear_ack_pending(self, incident_id: str) -> None:
        if self.pending_acks.pop(incident_id, None) is not None:
            self.dirty = True

    # -- views ---------------------------------------------------------------------------------

    def open_incidents(self) -> list[Snapshot]:
        return [s for s in self.incidents.values() if s.get("status", "open") == "open"]

    def rows(self) -> list[Snapshot]:
        """Open incidents that pass the filter, in the current sort order."""
        rows = [s for s in self.open_incidents() if matches(s, self.filter_text)]
        rows.sort(key=lambda s: s["id"])  # stable tie-break: id ascending
        if self.sort_key == "severity":
            rows.sort(key=lambda s: (severity_rank(s), -customers(s)))
        elif self.sort_key == "customers":
            rows.sort(key=lambda s: (-customers(s), severity_rank(s)))
        elif self.sort_key == "newest":
            rows.sort(key=lambda s: -(event_ms(s.get("opened_at")) or 0))
        else:
            rows.sort(key=lambda s: -(event_ms(s.get("updated_at")) or 0))
        rows.sort(key=lambda s: s.get("planned") is True)  # planned work: a group of its own
        return rows

    def maintenance_windows(self, now_ms: int) -> list[tuple[str, dict[str, Any]]]:
        """Windows in force ("active") or to come ("scheduled") at `now_ms`, by start."""
        out = []
        for window in self.windows.values():
            start = event_ms(window.get("starts_at")) or 0
            end = event_ms(window.get("ends_at")) or 0
            if now_ms < end:
                out.append((start, window["id"], "active" if start <= now_ms else "scheduled"))
        return [(state, self.windows[wid]) for _, wid, state in sorted(out)]

    def severity_counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        for snapshot in self.open_incidents():
            sev = snapshot.get("severity")
            if sev in counts:
                counts[sev] += 1
        return counts

    def sparkline(self, buckets: int = 30) -> list[float]:
        """Customers affected over the last 30 minutes of event time, one value per bucket
        (the maximum seen in it; an empty bucket carries the previous value)."""
        if not self.history:
            return [0.0] * buckets
        points = list(self.history)
        end = points[-1][0]
        start = end - HISTORY_WINDOW_MS
        values: list[float] = []
        carry = 0.0  # the value in force at the start of the bucket
        i = 0
        for b in range(buckets):
            lo = start + HISTORY_WINDOW_MS * b / buckets
            hi = start + HISTORY_WINDOW_MS * (b + 1) / buckets if b < buckets - 1 else end + 1
            best: float | None = None
            while i < len(points) and points[i][0] < hi:
                t, v = points[i]
                if t >= lo:
                    best = float(v) if best is None else max(best, float(v))
                carry = float(v)
                i += 1
            values.append(carry if best is None else best)
        return values

    def stale_reasons(self, now_ms: int) -> list[str]:
        """Why the figures cannot be trusted right now (empty = fresh). DESIGN §6."""
        reasons: list[str] = []
        summary = self.summary
        if summary is None:
            if self.started_ms is not None and now_ms - self.started_ms > SUMMARY_SILENCE_MS:
                reasons.append("no impact summary received")
            return reasons
        lag = summary.get("ingest_lag_seconds")
        if isinstance(lag, int | float) and lag > LAG_STALE_SECONDS:
            reasons.append(f"ingest lag {lag:.0f} s")
        sources = summary.get("stale_sources") or []
        if isinstance(sources, list) and sources:
            reasons.append("stale sources: " + ", ".join(str(s) for s in sources))
        if self.summary_seen_ms is not None and now_ms - self.summary_seen_ms > SUMMARY_SILENCE_MS:
            silent = (now_ms - self.summary_seen_ms) // SECOND
            reasons.append(f"no impact summary for {format_duration(silent * SECOND)}")
        return reasons

    def unmapped_groups(self) -> list[UnmappedGroup]:
        """Topology gaps, most frequent first."""
        return sorted(self.unmapped.values(), key=lambda g: (-g.count, g.labels))

    def service_list(self) -> list[dict[str, Any]]:
        """Business services for the board: worst first, then tier, then id."""
        order = {"down": 0, "partial": 1, "degraded": 2, "ok": 3}
        return sorted(
            self.services.values(),
            key=lambda s: (
                order.get(str(s.get("state")), 4),
                s.get("tier") if isinstance(s.get("tier"), int) else 9,
                str(s.get("id")),
            ),
        )


def matches(snapshot: Mapping[str, Any], text: str) -> bool:
    """Every word of `text` occurs (case-insensitively) in the id, title, services or components."""
    if not text:
        return True
    haystack = searchable(snapshot)
    return all(word in haystack for word in text.lower().split())


def searchable(snapshot: Mapping[str, Any]) -> str:
    parts: list[str] = [str(snapshot.get("id", "")), str(snapshot.get("title", ""))]
    for service in _dicts(snapshot.get("business_services")):
        parts.extend((str(service.get("id", "")), str(service.get("name", ""))))
    for component in _dicts(snapshot.get("components")):
        parts.append(str(component.get("id", "")))
    return "\n".join(parts).lower()


def _dicts(value: object) -> Sequence[Mapping[str, Any]]:
    if not isinstance(value, list):
        return ()
    return [v for v in value if isinstance(v, dict)]
