"""PagerDuty Events API v2: one event per payload, `trigger`, `acknowledge` or `resolve`.

The fingerprint is the `dedup_key` scoped by the integration it was sent to:
`pd:<routing key digest>:<dedup_key>`. The routing key is an integration secret, so only a
short SHA-256 digest of it appears in fingerprints (and hence in every topic and the war room).
An acknowledge changes no health, so it is a note. A resolve usually carries nothing but the
key: it becomes a resolved alert with that fingerprint (the alert state remembers which
component the trigger mapped to); when a sender includes a `payload`, its identity fields become
labels and its `timestamp` the resolve's event time.

Only the identity (`routing_key`, `dedup_key`) and the action reject an event. Every optional
field of an unexpected type is kept as text or dropped with a note (DESIGN §4): a
`custom_details` string (valid for PagerDuty) becomes the `custom_details` annotation; a
severity outside critical/error/warning/info is read as a severity word.
"""

from __future__ import annotations

import hashlib

import orjson

from correlator.adapters.fields import (
    Converted,
    json_type,
    obj,
    rfc3339,
    scalar_text,
    text,
)
from correlator.core.alerts import NO_SEVERITY, Alert, AlertError, normalise_severity
from correlator.core.timefmt import Millis

FORMAT = "pagerduty"
MAX_DEDUP_KEY = 255
_ACTIONS = ("trigger", "acknowledge", "resolve")
_SEVERITIES = ("critical", "error", "warning", "info")


def convert(data: object, received_at: Millis) -> Converted:
    """The alert (or note) one PagerDuty v2 event stands for."""
    event = obj(data, "pagerduty event")
    action = event.get("event_action")
    if action not in _ACTIONS:
        raise AlertError(
            f"pagerduty event_action must be trigger, acknowledge or resolve, got {action!r}"[:160]
        )
    routing_key = text(event.get("routing_key"), "pagerduty routing_key")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and type(dedup_key) is not str:
        # A number is a usable key (some senders use an incident number); anything else is not.
        key = scalar_text(dedup_key)
        if key is None or type(dedup_key) is bool:
            raise AlertError(f"pagerduty dedup_key must be a string, got {json_type(dedup_key)}")
        dedup_key = key
    dedup_key = dedup_key or ""
    if len(dedup_key) > MAX_DEDUP_KEY:
        raise AlertError(f"pagerduty dedup_key is longer than {MAX_DEDUP_KEY} characters")
    out = Converted()
    if action == "trigger":
        out.alerts.append(_trigger(event, routing_key, dedup_key, received_at, out.notes))
        return out
    if not dedup_key:
        raise AlertError(f"pagerduty {action} needs a dedup_key")
    fingerprint = fingerprint_for(routing_key, dedup_key)
    if action == "acknowledge":
        out.notes.append(f"pagerduty acknowledge of {fingerprint}: no change of health")
        return out
    payload = _payload(event, out.notes)
    labels = _labels(payload, out.notes) if payload else {}
    alert = Alert(
        fingerprint=fingerprint,
        status="resolved",
        severity="info",
        labels=labels,
        received_at=received_at,
        summary=_text(payload.get("summary"), "payload.summary", out.notes),
        ends_at=rfc3339(payload.get("timestamp"), "pagerduty payload.timestamp"),
        source=FORMAT,
    )
    alert.check_time()
    out.alerts.append(alert)
    return out


def fingerprint_for(routing_key: str, dedup_key: str) -> str:
    """`dedup_key` scoped per integration, without exposing the routing key."""
    digest = hashlib.sha256(routing_key.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"pd:{digest}:{dedup_key}"


def _payload(event: dict[str, object], notes: list[str]) -> dict[str, object]:
    payload = event.get("payload")
    if payload is None or type(payload) is dict:
        return payload or {}
    notes.append(f"pagerduty payload: a JSON {json_type(payload)}, not an object: ignored")
    return {}


def _text(value: object, what: str, notes: list[str]) -> str:
    """An optional text field: scalars as text; anything else dropped with a note."""
    if value is None:
        return ""
    scalar = scalar_text(value)
    if scalar is None:
        notes.append(f"pagerduty {what}: a JSON {json_type(value)}, not text: dropped")
        return ""
    return scalar


def _labels(payload: dict[str, object], notes: list[str]) -> dict[str, str]:
    """Scalar `custom_details`, then the identity fields (written last so a custom detail of
    the same name cannot hide them): `host` ← source, `component`, `group`, `class`."""
    labels: dict[str, str] = {}
    details = payload.get("custom_details")
    if type(details) is dict:
        for key, value in details.items():
            scalar = scalar_text(value)
            if scalar is not None:
                labels[key] = scalar
    source = _text(payload.get("source"), "payload.source", notes)
    if source:
        labels["host"] = source
    for key in ("component", "group", "class"):
        value = _text(payload.get(key), f"payload.{key}", notes)
        if value:
            labels[key] = value
    return labels


def _trigger(
    event: dict[str, object],
    routing_key: str,
    dedup_key: str,
    received_at: Millis,
    notes: list[str],
) -> Alert:
    payload = _payload(event, notes)
    labels = _labels(payload, notes)
    summary = _text(payload.get("summary"), "payload.summary", notes)
    if not summary:
        notes.append("pagerduty payload.summary is missing")
    raw_severity = payload.get("severity")
    severity = normalise_severity(raw_severity)
    if raw_severity is None:
        notes.append(f"pagerduty payload.severity is missing: taken as {NO_SEVERITY}")
    elif raw_severity not in _SEVERITIES:
        notes.append(
            f"pagerduty payload.severity {str(raw_severity)[:40]!r} is not one of critical, "
            f"error, warning, info: taken as {severity}"
        )
    if not dedup_key:
        # PagerDuty would invent a random key; ours must be stable so repeats deduplicate.
        identity = [
            labels.get("host"),
            labels.get("component"),
            labels.get("group"),
            labels.get("class"),
            summary,
        ]
        dedup_key = "auto-" + hashlib.sha256(orjson.dumps(identity)).hexdigest()[:16]
    annotations: dict[str, str] = {}
    for key in ("client", "client_url"):
        value = _text(event.get(key), key, notes)
        if value:
            annotations[key] = value
    details = payload.get("custom_details")
    if details is not None and type(details) is not dict:
        # PagerDuty accepts any JSON here, and a string is common: keep it as text to read.
        annotations["custom_details"] = (
            details if type(details) is str else orjson.dumps(details).decode()
        )
        notes.append(
            f"pagerduty custom_details: a JSON {json_type(details)}, kept as the "
            "custom_details annotation"
        )
    alert = Alert(
        fingerprint=fingerprint_for(routing_key, dedup_key),
        status="firing",
        severity=severity,
        labels=labels,
        received_at=received_at,
        annotations=annotations,
        summary=summary,
        starts_at=rfc3339(payload.get("timestamp"), "pagerduty payload.timestamp"),
        source=FORMAT,
    )
    alert.check_time()
    return alert
