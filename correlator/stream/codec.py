"""Record shapes of the stream's own topics (the hops, `impact.input`, `alerts.dlq`, `topology`)
and the reverse of `correlator.wire` where a stage must read a published record back.

Every value is orjson-encoded JSON with `"schema": 1` (see docs/schemas.md). Alerts on the
internal hops use a compact form with integer millisecond timestamps: the hops carry every alert,
and formatting and parsing RFC 3339 strings there would cost more than the decoding itself.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import orjson

from correlator.adapters import DeadLetter
from correlator.core.alert_state import TrackedAlert
from correlator.core.alerts import Alert
from correlator.core.health import ComponentHealth
from correlator.core.snapshot import (
    ComponentEntry,
    IncidentSnapshot,
    SegmentImpact,
    ServiceEntry,
)
from correlator.core.stages import Mark, Origin
from correlator.core.timefmt import Millis, TimeFormatError, format_time, parse_time
from correlator.core.topology import Topology
from correlator.records import SCHEMA
from correlator.wire import brief_from_dict, health_to_dict

dumps = orjson.dumps
loads = orjson.loads


def partition_for(key: str, partitions: int) -> int:
    """The hop partition of a fingerprint or component id (stable across processes)."""
    return zlib.crc32(key.encode()) % partitions


# -- alerts.raw ----------------------------------------------------------------------------------

_ENVELOPE_KEYS = frozenset({"payload", "received_at", "format", "source"})


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


def impact_tick(at: Millis) -> bytes:
    return dumps({"schema": SCHEMA, "type": "tick", "at": format_time(at)})


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
