"""Opsgenie outgoing webhooks: one alert action per payload.

`Create` fires and `Close` resolves the alert whose dedup key is `alert.alias`; every other
action (Acknowledge, AddNote, Escalate, …) changes no health and becomes a note. `createdAt`
is in milliseconds and `updatedAt` in nanoseconds. `priority` is P1…P5, or the number alone
(Opsgenie's own webhook sends `3`); without one, Opsgenie's default P3 (warning). Optional
fields of an unexpected type are kept as text or dropped with a note.
"""

from __future__ import annotations

from correlator.adapters.fields import (
    Converted,
    epoch_number,
    json_type,
    obj,
    scalar_text,
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
        key = _text(alert.get("alias"), "alert.alias", out.notes) or _text(
            alert.get("alertId"), "alert.alertId", out.notes
        )
        out.notes.append(f"opsgenie {action[:40]} of alert {key[:255]!r}: no change of health")
        return out
    notes = out.notes
    labels: dict[str, str] = {}
    plain: list[str] = []
    for tag in _tags(alert.get("tags"), notes):
        key, sep, value = tag.partition(":")
        key, value = key.strip(), value.strip()
        if sep and key and value:
            labels[key] = value
        else:
            plain.append(tag)
    # entity and source are the identity fields: written last so a tag cannot hide them.
    for key in ("entity", "source"):
        value = _text(alert.get(key), f"alert.{key}", notes)
        if value:
            labels[key] = value
    fingerprint = _text(alert.get("alias"), "alert.alias", notes) or _text(
        alert.get("alertId"), "alert.alertId", notes
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
        value = _text(alert.get(key), f"alert.{key}", notes)
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
        summary=_text(alert.get("message"), "alert.message", notes).strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        source=FORMAT,
    )
    result.check_time()
    out.alerts.append(result)
    return out


def _text(value: object, what: str, notes: list[str]) -> str:
    """An optional text field: scalars as text (a numeric priority, an id); anything else is
    dropped with a note."""
    if value is None:
        return ""
    scalar = scalar_text(value)
    if scalar is None:
        notes.append(f"opsgenie {what}: a JSON {json_type(value)}, not text: dropped")
        return ""
    return scalar


def _tags(value: object, notes: list[str]) -> list[str]:
    """`alert.tags` as strings: an array of scalars, or a comma-separated string."""
    if value is None:
        return []
    if type(value) is str:
        return [t.strip() for t in value.split(",") if t.strip()]
    if type(value) is not list:
        notes.append(f"opsgenie alert.tags: a JSON {json_type(value)}, not an array: dropped")
        return []
    tags = []
    for tag in value:
        scalar = scalar_text(tag)
        if scalar is None:
            notes.append(f"opsgenie alert.tags: a JSON {json_type(tag)} tag dropped")
        elif scalar:
            tags.append(scalar)
    return tags
