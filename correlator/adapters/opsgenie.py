"""Opsgenie outgoing webhooks: one alert action per payload.

`Create` fires and `Close` resolves the alert whose dedup key is `alert.alias`; every other
action (Acknowledge, AddNote, Escalate, …) changes no health and becomes a note. `createdAt`
is in milliseconds and `updatedAt` in nanoseconds.
"""

from __future__ import annotations

from correlator.adapters.fields import (
    Converted,
    epoch_number,
    json_type,
    obj,
    opt_text,
    text,
)
from correlator.core.alerts import Alert, AlertError, labels_fingerprint, normalise_severity
from correlator.core.timefmt import Millis

FORMAT = "opsgenie"
# Opsgenie's documented default when an alert is created without a priority.
DEFAULT_PRIORITY = "P3"


def convert(data: object, received_at: Millis) -> Converted:
    """The alert (or note) one Opsgenie webhook call stands for."""
    payload = obj(data, "opsgenie payload")
    action = text(payload.get("action"), "opsgenie action")
    alert = obj(payload.get("alert"), "opsgenie alert")
    out = Converted()
    if action != "Create" and action != "Close":
        key = opt_text(alert.get("alias"), "alert.alias") or opt_text(
            alert.get("alertId"), "alert.alertId"
        )
        out.notes.append(f"opsgenie {action[:40]} of alert {key[:255]!r}: no change of health")
        return out
    labels: dict[str, str] = {}
    tags = alert.get("tags")
    plain: list[str] = []
    if tags is not None:
        if type(tags) is not list:
            raise AlertError(f"alert.tags must be an array, got {json_type(tags)}")
        for tag in tags:
            if type(tag) is not str:
                raise AlertError(f"alert.tags must hold strings, got {json_type(tag)}")
            key, sep, value = tag.partition(":")
            key, value = key.strip(), value.strip()
            if sep and key and value:
                labels[key] = value
            else:
                plain.append(tag)
    # entity and source are the identity fields: written last so a tag cannot hide them.
    for key in ("entity", "source"):
        value = opt_text(alert.get(key), f"alert.{key}")
        if value:
            labels[key] = value
    fingerprint = opt_text(alert.get("alias"), "alert.alias") or opt_text(
        alert.get("alertId"), "alert.alertId"
    )
    if not fingerprint:
        if not labels:
            raise AlertError(
                "opsgenie alert has no alias, alertId, entity, source or key:value tag"
            )
        fingerprint = labels_fingerprint(labels)
    priority = alert.get("priority")
    annotations: dict[str, str] = {}
    for key, name in (
        ("alertId", "alert_id"),
        ("tinyId", "tiny_id"),
        ("description", "description"),
    ):
        value = opt_text(alert.get(key), f"alert.{key}")
        if value:
            annotations[name] = value
    if plain:
        annotations["tags"] = ", ".join(plain)
    firing = action == "Create"
    if firing:
        starts_at = epoch_number(alert.get("createdAt"), "alert.createdAt")
        ends_at = None
    else:
        starts_at = None
        ends_at = epoch_number(alert.get("updatedAt"), "alert.updatedAt")
    result = Alert(
        fingerprint=fingerprint,
        status="firing" if firing else "resolved",
        severity=normalise_severity(DEFAULT_PRIORITY if priority is None else priority),
        labels=labels,
        received_at=received_at,
        annotations=annotations,
        summary=opt_text(alert.get("message"), "alert.message").strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        source=FORMAT,
    )
    result.check_time()
    out.alerts.append(result)
    return out
