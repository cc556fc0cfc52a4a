"""Every record shape on the wire, read and write: the published records of DESIGN §6, the
stream's own hops (`alerts.keyed`, `alert.transitions`, `impact.input`, progress marks), the
ingress envelope on `alerts.raw`, dead letters, table values and the `topology` topic.

The one module that knows the wire shapes. Every value carries `"schema": 1`; timestamps are
RFC 3339 UTC on published records (impacts rounded to 6 decimals); alerts on the internal hops
use a compact form with integer millisecond timestamps: the hops carry every alert, and
formatting and parsing RFC 3339 strings there would cost more than the decoding itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import orjson

from correlator.adapters import DeadLetter
from correlator.core.alert_state import AlertTransition, TrackedAlert
from correlator.core.alerts import Alert, alert_to_dict
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
from correlator.core.stages import Mark, Origin
from correlator.core.timefmt import Millis, TimeFormatError, format_time, parse_time
from correlator.core.topology import Topology
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


dumps = orjson.dumps
loads = orjson.loads
"""Every record is orjson-encoded JSON (DESIGN §2)."""


# -- alerts.raw ----------------------------------------------------------------------------------

_ENVELOPE_KEYS = frozenset({"payload", "received_at", "format", "source"})
_Fragment: Any = getattr(orjson, "Fragment", None)


def raw_envelope(payload: Any, received_at: Millis, fmt: str | None) -> bytes:
    """The `alerts.raw` value the ingress (and the simulator) writes: the payload as an object,
    when it was received and its format name if the sender named it (docs/schemas.md). A
    payload given as `bytes` must be one validated JSON value; it is embedded as it came,
    without a parse and re-dump."""
    if isinstance(payload, bytes):
        payload = _Fragment(payload) if _Fragment is not None else loads(payload)
    return dumps({"received_at": format_time(received_at), "format": fmt, "payload": payload})


def unwrap_raw(value: bytes, read_at: Millis) -> tuple[bytes, Millis, str | None]:
    """A raw record's payload bytes, `received_at` and format name.

    The ingress writes `{"received_at": RFC3339, "format": name|null, "payload": object|string}`;
    anything else is a bare payload, stamped `read_at`.
    """
    if not value.startswith(b"{") or b'"payload"' not in value:
        return value, read_at, None
    try:
        doc = loads(value)
    except orjson.JSONDecodeError:
        return value, read_at, None
    if type(doc) is not dict or "payload" not in doc or not doc.keys() <= _ENVELOPE_KEYS:
        return value, read_at, None
    received = read_at
    stamp = doc.get("received_at")
    if isinstance(stamp, str):
        try:
            received = parse_time(stamp)
        except TimeFormatError:
            received = read_at
    fmt = doc.get("format")
    payload = doc["payload"]
    body = payload.encode() if isinstance(payload, str) else dumps(payload)
    return body, received, fmt if isinstance(fmt, str) else None


def dead_letter_value(
    letter: DeadLetter, topic: str, partition: int, offset: int
) -> dict[str, Any]:
    """The value on `alerts.dlq`."""
    return {
        "schema": SCHEMA,
        "reason": letter.reason,
        "source": letter.source,
        "received_at": format_time(letter.received_at),
        "excerpt": letter.excerpt,
        "excerpt_encoding": letter.excerpt_encoding,
        "topic": topic,
        "partition": partition,
        "offset": offset,
    }


# -- hops ----------------------------------------------------------------------------------------


def alert_to_hop(a: Alert) -> dict[str, Any]:
    return {
        "fp": a.fingerprint,
        "st": a.status,
        "sev": a.severity,
        "labels": a.labels,
        "ann": a.annotations,
        "sum": a.summary,
        "start": a.starts_at,
        "end": a.ends_at,
        "src": a.source,
        "recv": a.received_at,
    }


def alert_from_hop(d: Mapping[str, Any]) -> Alert:
    return Alert(
        fingerprint=d["fp"],
        status=d["st"],
        severity=d["sev"],
        labels=d["labels"],
        annotations=d["ann"],
        summary=d["sum"],
        starts_at=d["start"],
        ends_at=d["end"],
        source=d["src"],
        received_at=d["recv"],
    )


def tracked_to_bytes(t: TrackedAlert) -> bytes:
    """The `alert_state` table value (key: fingerprint)."""
    return dumps(
        {
            "schema": SCHEMA,
            "component": t.component,
            "active": t.active,
            "last_change": t.last_change,
            "deadline": t.deadline,
            "alert": alert_to_hop(t.alert),
        }
    )


def tracked_from_bytes(fingerprint: str, raw: bytes) -> TrackedAlert:
    d = loads(raw)
    return TrackedAlert(
        fingerprint,
        d["component"],
        d["active"],
        d["last_change"],
        alert_from_hop(d["alert"]),
        d["deadline"],
    )


# -- impact.input --------------------------------------------------------------------------------


def impact_health(
    record: ComponentHealth, received_at: Millis | None, origin: Origin | None = None
) -> bytes:
    return dumps(
        {
            "schema": SCHEMA,
            "type": "health",
            "health": health_to_dict(record),
            "received_at": received_at,
            "origin": origin_to_hop(origin),
        }
    )


def impact_tick(at: Millis, until: float | None = None) -> bytes:
    """An idle tick to event time `at`, counting idle wall time up to `until` (seconds since
    the epoch): the impact clock re-anchors there when it applies the tick."""
    d: dict[str, Any] = {"schema": SCHEMA, "type": "tick", "at": format_time(at)}
    if until is not None:
        d["until"] = round(until, 3)
    return dumps(d)


def impact_heartbeat(source: str, at: Millis, origin: Origin | None = None) -> bytes:
    return dumps(
        {
            "schema": SCHEMA,
            "type": "heartbeat",
            "source": source,
            "at": format_time(at),
            "origin": origin_to_hop(origin),
        }
    )


def impact_topology(topology: Topology, text: str) -> bytes:
    return dumps(
        {
            "schema": SCHEMA,
            "type": "topology",
            "name": topology.name,
            "version": topology.version,
            "text": text,
        }
    )


def impact_ack(action: Mapping[str, Any]) -> bytes:
    return dumps(
        {
            "schema": SCHEMA,
            "type": "ack",
            "incident": action.get("incident"),
            "by": action.get("by"),
            "at": action.get("at"),
        }
    )


def topology_value(topology: Topology, text: str, source: str) -> bytes:
    """The value on `topology` (key: topology name)."""
    return dumps(
        {
            "schema": SCHEMA,
            "name": topology.name,
            "version": topology.version,
            "source": source,
            "text": text,
        }
    )


# -- reading published records back --------------------------------------------------------------


def _opt_time(value: object) -> Millis | None:
    return parse_time(value) if isinstance(value, str) else None


def snapshot_from_dict(d: Mapping[str, Any]) -> IncidentSnapshot:
    """A value of `incidents` back into a core snapshot (impacts as 6-decimal fractions)."""
    topology = d.get("topology") or {}
    return IncidentSnapshot(
        id=d["id"],
        seq=int(d["seq"]),
        status=d["status"],
        merged_into=d.get("merged_into"),
        severity=d["severity"],
        title=d.get("title", ""),
        opened_at=parse_time(d["opened_at"]),
        updated_at=parse_time(d["updated_at"]),
        resolved_at=_opt_time(d.get("resolved_at")),
        as_of=parse_time(d["as_of"]),
        customers_affected=int(d["customers_affected"]),
        customers_degraded=int(d["customers_degraded"]),
        peak_customers_affected=int(d["peak_customers_affected"]),
        peak_severity=d["peak_severity"],
        segments=tuple(
            SegmentImpact(s["id"], s["name"], s["customers"], s["affected"], s["degraded"])
            for s in d.get("segments", ())
        ),
        business_services=tuple(
            ServiceEntry(
                s["id"], s["name"], s["tier"], Fraction(str(s["impact"])), s["state"], s["owner"]
            )
            for s in d.get("business_services", ())
        ),
        root_causes=tuple(d.get("root_causes", ())),
        components=tuple(
            ComponentEntry(
                c["id"],
                c["name"],
                c["kind"],
                c["state"],
                c["root_cause"],
                c.get("owner"),
                c.get("runbook"),
                c["alert_count"],
                tuple(brief_from_dict(a) for a in c.get("alerts", ())),
            )
            for c in d.get("components", ())
        ),
        alert_count=int(d["alert_count"]),
        estimated=bool(d["estimated"]),
        acknowledged_by=d.get("acknowledged_by"),
        acknowledged_at=_opt_time(d.get("acknowledged_at")),
        topology_name=topology.get("name", ""),
        topology_version=topology.get("version", ""),
        planned=d.get("planned") is True,
    )


# -- progress marks (in-band, on alerts.keyed, alert.transitions and impact.input) ---------------


def marks_value(
    source: int, marks: list[tuple[int, Mark]], raw: int, kind: str | None = None
) -> bytes:
    """How far upstream partition `source` has passed on each raw partition:
    `[[raw partition, next offset, event time read, caught up]]`, out of `raw` raw partitions
    (`type: mark` on `impact.input`)."""
    value: dict[str, Any] = {"schema": SCHEMA}
    if kind is not None:
        value["type"] = kind
    value["source"] = source
    value["raw"] = raw
    value["marks"] = [[r, m.offset, m.read, m.caught_up] for r, m in marks]
    return dumps(value)


def marks_from_dict(d: Mapping[str, Any]) -> tuple[int, int, list[tuple[int, Mark]]]:
    """(source, raw partitions, marks) of a marks record."""
    marks = [(int(r), Mark(int(o), int(t), bool(up))) for r, o, t, up in d["marks"]]
    return int(d["source"]), int(d["raw"]), marks


def origin_to_hop(origin: Origin | None) -> list[int] | None:
    return None if origin is None else [origin.partition, origin.offset]


def origin_from_hop(value: Any) -> Origin | None:
    return None if value is None else Origin(int(value[0]), int(value[1]))


# -- the stages' own record shapes ---------------------------------------------------------------


def keyed_value(alerts: list[dict[str, Any]]) -> bytes:
    """A record on `alerts.keyed`: hop alerts (with their `org`) for one partition."""
    return dumps({"schema": SCHEMA, "alerts": alerts})


def transitions_value(items: list[dict[str, Any]]) -> bytes:
    """A record on `alert.transitions`: transitions for one partition."""
    return dumps({"schema": SCHEMA, "transitions": items})


def transition_to_hop(t: AlertTransition, at: Millis, origin: Origin | None) -> dict[str, Any]:
    return {
        "component": t.component,
        "fingerprint": t.fingerprint,
        "active": t.active,
        "at": at,
        "alert": alert_to_hop(t.alert),
        "org": origin_to_hop(origin),
    }


def component_alert_value(alert: Alert | None, at: Millis) -> bytes:
    """The `component_alerts` table value: the alert while active, None once it stopped."""
    return dumps({"alert": None if alert is None else alert_to_hop(alert), "at": at})


def component_alert_from_bytes(raw: bytes) -> tuple[Alert | None, Millis]:
    d = loads(raw)
    return (None if d["alert"] is None else alert_from_hop(d["alert"])), int(d["at"])
