"""Alertmanager webhook v4 payloads: one POST carries a group of alerts, each with its own
status (a "firing" group may hold resolved alerts).

`fingerprint` (0.19+), `truncatedAlerts` (0.21+), `notification_reason` (0.32+) and
`routeLabels` (0.34+) are all optional, and so is a per-alert `status`: an alert without one
takes the group's. Severity is the `severity` label (else a `priority` label); without either
the alert is a warning (DESIGN §4). Grafana's unified alerting webhook has the same shape and
reuses `convert_group`.
"""

from __future__ import annotations

from correlator.adapters.fields import (
    Converted,
    Rejected,
    json_type,
    label_map,
    obj,
    plain_map,
    rfc3339,
    scalar_text,
)
from correlator.core.alerts import Alert, AlertError, labels_fingerprint, normalise_severity
from correlator.core.timefmt import Millis

FORMAT = "alertmanager"
_STATUSES = ("firing", "resolved")


def convert(data: object, received_at: Millis) -> Converted:
    """Every alert of an Alertmanager webhook payload; a bad alert is rejected on its own."""
    return convert_group(data, received_at, FORMAT)


def convert_group(data: object, received_at: Millis, source: str) -> Converted:
    payload = obj(data, f"{source} payload")
    alerts = payload.get("alerts")
    if type(alerts) is not list:
        what = "nothing" if alerts is None else json_type(alerts)
        raise AlertError(f"{source} payload: 'alerts' must be an array, got {what}")
    group_status = payload.get("status")
    out = Converted()
    append = out.alerts.append
    for index, item in enumerate(alerts):
        try:
            append(convert_alert(item, received_at, source, group_status, out.notes, index))
        except AlertError as exc:
            out.rejected.append(Rejected(f"{source} alerts[{index}]: {exc}", item))
    truncated = payload.get("truncatedAlerts")
    if type(truncated) is int and truncated > 0:
        out.notes.append(
            f"{source}: the sender truncated {truncated} alert(s) from this group (max_alerts)"
        )
    return out


def convert_alert(
    item: object,
    received_at: Millis,
    source: str,
    group_status: object = None,
    notes: list[str] | None = None,
    index: int = 0,
) -> Alert:
    """One alert of the group: labels as they are, fingerprint or a hash of the labels."""
    if type(item) is not dict:
        raise AlertError(f"must be a JSON object, got {json_type(item)}")
    status = item.get("status")
    if status is None and group_status in _STATUSES:
        status = group_status
    if status != "firing" and status != "resolved":
        raise AlertError(f"status must be 'firing' or 'resolved', got {_short(status)}")
    # The common case (string values only) skips label_map and the formatting of its context.
    labels = item.get("labels")
    if not plain_map(labels):
        labels = label_map(labels, f"{source} alerts[{index}] labels", notes)
    fingerprint = item.get("fingerprint")
    if type(fingerprint) is not str or not fingerprint:
        text = scalar_text(fingerprint)
        if text:
            fingerprint = text
        else:
            if fingerprint is not None and fingerprint != "" and notes is not None:
                notes.append(
                    f"{source} alerts[{index}]: fingerprint ({json_type(fingerprint)}) ignored"
                )
            if not labels:
                raise AlertError("alert has neither a fingerprint nor labels")
            fingerprint = labels_fingerprint(labels)
    annotations = item.get("annotations")
    if not plain_map(annotations):
        annotations = label_map(annotations, f"{source} alerts[{index}] annotations", notes)
    severity = labels.get("severity")
    alert = Alert(
        fingerprint=fingerprint,
        status=status,
        severity=normalise_severity(severity if severity is not None else labels.get("priority")),
        labels=labels,
        received_at=received_at,
        annotations=annotations,
        summary=annotations.get("summary") or annotations.get("description") or "",
        starts_at=rfc3339(item.get("startsAt"), "startsAt"),
        ends_at=rfc3339(item.get("endsAt"), "endsAt"),
        source=source,
    )
    alert.check_time()
    return alert


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
