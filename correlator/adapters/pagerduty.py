"""PagerDuty Events API v2: one event per payload, `trigger`, `acknowledge` or `resolve`.

The fingerprint is the `dedup_key` scoped by the integration it was sent to:
`pd:<routing key digest>:<dedup_key>`. The routing key is an integration secret, so only a
short SHA-256 digest of it appears in fingerprints (and hence in every topic and the war room).
Acknowledge and resolve carry nothing but the key: a resolve becomes a resolved alert with that
fingerprint and no labels (the alert state remembers which component the trigger mapped to),
and an acknowledge changes no health, so it is a note.
"""

from __future__ import annotations

import hashlib

import orjson

from correlator.adapters.fields import (
    Converted,
    obj,
    opt_obj,
    opt_text,
    rfc3339,
    scalar_text,
    text,
)
from correlator.core.alerts import Alert, AlertError, normalise_severity
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
    dedup_key = opt_text(event.get("dedup_key"), "pagerduty dedup_key")
    if len(dedup_key) > MAX_DEDUP_KEY:
        raise AlertError(f"pagerduty dedup_key is longer than {MAX_DEDUP_KEY} characters")
    out = Converted()
    if action == "trigger":
        out.alerts.append(_trigger(event, routing_key, dedup_key, received_at))
        return out
    if not dedup_key:
        raise AlertError(f"pagerduty {action} needs a dedup_key")
    fingerprint = fingerprint_for(routing_key, dedup_key)
    if action == "acknowledge":
        out.notes.append(f"pagerduty acknowledge of {fingerprint}: no change of health")
        return out
    alert = Alert(
        fingerprint=fingerprint,
        status="resolved",
        severity="info",
        labels={},
        received_at=received_at,
        source=FORMAT,
    )
    out.alerts.append(alert)
    return out


def fingerprint_for(routing_key: str, dedup_key: str) -> str:
    """`dedup_key` scoped per integration, without exposing the routing key."""
    digest = hashlib.sha256(routing_key.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"pd:{digest}:{dedup_key}"


def _trigger(
    event: dict[str, object], routing_key: str, dedup_key: str, received_at: Millis
) -> Alert:
    payload = obj(event.get("payload"), "pagerduty trigger payload")
    summary = text(payload.get("summary"), "pagerduty payload.summary")
    source = text(payload.get("source"), "pagerduty payload.source")
    severity = payload.get("severity")
    if severity not in _SEVERITIES:
        raise AlertError(
            f"pagerduty payload.severity must be critical, error, warning or info, "
            f"got {severity!r}"[:160]
        )
    labels: dict[str, str] = {}
    # Identity fields are written last so a custom detail of the same name cannot hide them.
    for key, value in opt_obj(payload.get("custom_details"), "pagerduty custom_details").items():
        scalar = scalar_text(value)
        if scalar is not None:
            labels[key] = scalar
    labels["host"] = source
    for key in ("component", "group", "class"):
        value = opt_text(payload.get(key), f"pagerduty payload.{key}")
        if value:
            labels[key] = value
    if not dedup_key:
        # PagerDuty would invent a random key; ours must be stable so repeats deduplicate.
        identity = [
            source,
            labels.get("component"),
            labels.get("group"),
            labels.get("class"),
            summary,
        ]
        dedup_key = "auto-" + hashlib.sha256(orjson.dumps(identity)).hexdigest()[:16]
    annotations: dict[str, str] = {}
    for key in ("client", "client_url"):
        value = opt_text(event.get(key), f"pagerduty {key}")
        if value:
            annotations[key] = value
    alert = Alert(
        fingerprint=fingerprint_for(routing_key, dedup_key),
        status="firing",
        severity=normalise_severity(severity),
        labels=labels,
        received_at=received_at,
        annotations=annotations,
        summary=summary,
        starts_at=rfc3339(payload.get("timestamp"), "pagerduty payload.timestamp"),
        source=FORMAT,
    )
    alert.check_time()
    return alert
