"""Core values → the JSON records of DESIGN §6 (and back where a stage must read them).

The one module that knows the wire shapes. Every value carries `"schema": 1`; timestamps are
RFC 3339 UTC; impacts are rounded to 6 decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from correlator.core.alert_state import AlertTransition
from correlator.core.alerts import alert_to_dict
from correlator.core.health import AlertBrief, ComponentHealth
from correlator.core.incidents import StepResult, UnmappedAlert
from correlator.core.maintenance import MaintenanceWindow
from correlator.core.snapshot import (
    ComponentEntry,
    ImpactSummary,
    IncidentEvent,
    IncidentSnapshot,
    SegmentImpact,
    ServiceEntry,
    ServiceImpact,
)
from correlator.core.timefmt import Millis, TimeFormatError, format_time, parse_time
from correlator.errors import CorrelatorError
from correlator.records import (
    SCHEMA,
    SUMMARY_KEY,
    TOPIC_ALERTS_UNMAPPED,
    TOPIC_COMPONENT_HEALTH,
    TOPIC_IMPACT_SUMMARY,
    TOPIC_INCIDENT_EVENTS,
    TOPIC_INCIDENTS,
    TOPIC_SERVICE_IMPACT,
    Record,
)


def impact_number(value: Fraction) -> float:
    """Impacts on the wire: a float rounded to 6 decimals."""
    return round(float(value), 6)


def _time(ms: Millis | None) -> str | None:
    return None if ms is None else format_time(ms)


def brief_to_dict(brief: AlertBrief) -> dict[str, Any]:
    return {
        "fingerprint": brief.fingerprint,
        "severity": brief.severity,
        "summary": brief.summary,
        "starts_at": _time(brief.starts_at),
    }


def brief_from_dict(data: Mapping[str, Any]) -> AlertBrief:
    starts = data.get("starts_at")
    return AlertBrief(
        fingerprint=str(data["fingerprint"]),
        severity=data["severity"],
        summary=str(data.get("summary", "")),
        starts_at=parse_time(starts) if isinstance(starts, str) else None,
    )


def segment_to_dict(segment: SegmentImpact) -> dict[str, Any]:
    return {
        "id": segment.id,
        "name": segment.name,
        "customers": segment.customers,
        "affected": segment.affected,
        "degraded": segment.degraded,
    }


def _service_entry(entry: ServiceEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "name": entry.name,
        "tier": entry.tier,
        "impact": impact_number(entry.impact),
        "state": entry.state,
        "owner": entry.owner,
    }


def _component_entry(entry: ComponentEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "name": entry.name,
        "kind": entry.kind,
        "state": entry.state,
        "root_cause": entry.root_cause,
        "owner": entry.owner,
        "runbook": entry.runbook,
        "alert_count": entry.alert_count,
        "alerts": [brief_to_dict(a) for a in entry.alerts],
    }


def snapshot_to_dict(snapshot: IncidentSnapshot) -> dict[str, Any]:
    """The value on `incidents` (key: incident id) and inside every event."""
    return {
        "schema": SCHEMA,
        "id": snapshot.id,
        "seq": snapshot.seq,
        "status": snapshot.status,
        "merged_into": snapshot.merged_into,
        "severity": snapshot.severity,
        "title": snapshot.title,
        "opened_at": format_time(snapshot.opened_at),
        "updated_at": format_time(snapshot.updated_at),
        "resolved_at": _time(snapshot.resolved_at),
        "as_of": format_time(snapshot.as_of),
        "customers_affected": snapshot.customers_affected,
        "customers_degraded": snapshot.customers_degraded,
        "peak_customers_affected": snapshot.peak_customers_affected,
        "peak_severity": snapshot.peak_severity,
        "segments": [segment_to_dict(s) for s in snapshot.segments],
        "business_services": [_service_entry(s) for s in snapshot.business_services],
        "root_causes": list(snapshot.root_causes),
        "components": [_component_entry(c) for c in snapshot.components],
        "alert_count": snapshot.alert_count,
        "estimated": snapshot.estimated,
        "acknowledged_by": snapshot.acknowledged_by,
        "acknowledged_at": _time(snapshot.acknowledged_at),
        "topology": {"name": snapshot.topology_name, "version": snapshot.topology_version},
        "planned": snapshot.planned,
    }


def event_to_dict(event: IncidentEvent) -> dict[str, Any]:
    """The value on `incident.events` (key: incident id)."""
    return {
        "schema": SCHEMA,
        "type": event.type,
        "seq": event.seq,
        "at": format_time(event.at),
        "incident": snapshot_to_dict(event.incident),
    }


def service_impact_to_dict(record: ServiceImpact) -> dict[str, Any]:
    """The value on `service.impact` (key: business service id)."""
    return {
        "schema": SCHEMA,
        "id": record.id,
        "name": record.name,
        "tier": record.tier,
        "state": record.state,
        "impact": impact_number(record.impact),
        "customers_affected": record.customers_affected,
        "customers_degraded": record.customers_degraded,
        "incidents": list(record.incidents),
        "as_of": format_time(record.as_of),
    }


def summary_to_dict(summary: ImpactSummary, ingest_lag_seconds: float = 0.0) -> dict[str, Any]:
    """The value on `impact.summary` (one key)."""
    return {
        "schema": SCHEMA,
        "as_of": format_time(summary.as_of),
        "customers_total": summary.customers_total,
        "customers_affected": summary.customers_affected,
        "customers_degraded": summary.customers_degraded,
        "customers_affected_planned": summary.customers_affected_planned,
        "estimated": summary.estimated,
        "segments": [segment_to_dict(s) for s in summary.segments],
        "unattached_problems": list(summary.unattached_problems),
        "stale_sources": list(summary.stale_sources),
        "open_incidents": summary.open_incidents,
        "ingest_lag_seconds": round(ingest_lag_seconds, 3),
    }


def health_to_dict(record: ComponentHealth) -> dict[str, Any]:
    """The value on `component.health` (key: component id)."""
    return {
        "schema": SCHEMA,
        "id": record.id,
        "state": record.state,
        "counts": {"critical": record.critical, "warning": record.warning, "info": record.info},
        "alerts": [brief_to_dict(a) for a in record.alerts],
        "as_of": format_time(record.as_of),
    }


def health_from_dict(data: Mapping[str, Any]) -> ComponentHealth:
    """Read a `component.health` value back (the impact stage's input)."""
    counts = data.get("counts") or {}
    return ComponentHealth(
        id=str(data["id"]),
        state=data["state"],
        critical=int(counts.get("critical", 0)),
        warning=int(counts.get("warning", 0)),
        info=int(counts.get("info", 0)),
        alerts=tuple(brief_from_dict(a) for a in data.get("alerts", ())),
        as_of=parse_time(data["as_of"]),
    )


def unmapped_to_dict(item: UnmappedAlert) -> dict[str, Any]:
    """The value on `alerts.unmapped`: the alert and the labels that were tried."""
    return {
        "schema": SCHEMA,
        "alert": alert_to_dict(item.alert),
        "tried": [{"label": k, "value": v} for k, v in item.tried],
    }


class MaintenanceRecordError(CorrelatorError):
    """A `maintenance` action that cannot be understood (one line: what is wrong)."""


def maintenance_to_dict(window: MaintenanceWindow, at: Millis | None = None) -> dict[str, Any]:
    """A planned-work window on `incident.actions` (DESIGN §6). `at` is when it was set."""
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "type": "maintenance",
        "id": window.id,
        "components": list(window.components),
        "match": [dict(selector) for selector in window.match],
        "starts_at": format_time(window.starts_at),
        "ends_at": format_time(window.ends_at),
        "reason": window.reason,
        "by": window.by,
    }
    if at is not None:
        record["at"] = format_time(at)
    return record


def maintenance_from_dict(data: Mapping[str, Any]) -> MaintenanceWindow:
    """Read a `maintenance` action back; raises `MaintenanceRecordError` naming the problem."""
    wid = data.get("id")
    if not isinstance(wid, str) or not wid:
        raise MaintenanceRecordError("maintenance record without an id")
    components = data.get("components") or []
    match = data.get("match") or []
    if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
        raise MaintenanceRecordError(f"maintenance {wid}: components must be a list of ids")
    if not isinstance(match, list) or not all(
        isinstance(m, dict) and m and all(isinstance(v, str) for v in m.values()) for m in match
    ):
        raise MaintenanceRecordError(
            f"maintenance {wid}: match must be a list of non-empty label→value objects"
        )
    if not components and not match:
        raise MaintenanceRecordError(f"maintenance {wid}: names no component and no selector")
    try:
        starts, ends = parse_time(data["starts_at"]), parse_time(data["ends_at"])
    except (KeyError, TypeError, AttributeError, TimeFormatError) as exc:
        raise MaintenanceRecordError(f"maintenance {wid}: starts_at/ends_at: {exc}") from None
    return MaintenanceWindow(
        id=wid,
        components=tuple(components),
        match=tuple(tuple(sorted((str(k), v) for k, v in m.items())) for m in match),
        starts_at=starts,
        ends_at=ends,
        reason=str(data.get("reason") or ""),
        by=str(data.get("by") or "unknown"),
    )


def transition_to_dict(t: AlertTransition) -> dict[str, Any]:
    """An alert-state change, as passed from the alert-state stage to the health stage."""
    return {
        "schema": SCHEMA,
        "component": t.component,
        "fingerprint": t.fingerprint,
        "active": t.active,
        "alert": alert_to_dict(t.alert),
    }


def step_records(result: StepResult, ingest_lag_seconds: float = 0.0) -> list[Record]:
    """Every record one engine step publishes, in publication order."""
    records: list[Record] = [
        Record(TOPIC_ALERTS_UNMAPPED, u.alert.fingerprint, unmapped_to_dict(u))
        for u in result.unmapped
    ]
    records.extend(Record(TOPIC_COMPONENT_HEALTH, h.id, health_to_dict(h)) for h in result.health)
    for event in result.events:
        value = event_to_dict(event)
        records.append(Record(TOPIC_INCIDENTS, event.incident.id, value["incident"]))
        records.append(Record(TOPIC_INCIDENT_EVENTS, event.incident.id, value))
    records.extend(Record(TOPIC_INCIDENTS, i, None) for i in result.tombstones)
    records.extend(
        Record(TOPIC_SERVICE_IMPACT, s.id, service_impact_to_dict(s)) for s in result.services
    )
    if result.summary is not None:
        records.append(
            Record(
                TOPIC_IMPACT_SUMMARY,
                SUMMARY_KEY,
                summary_to_dict(result.summary, ingest_lag_seconds),
            )
        )
    return records
