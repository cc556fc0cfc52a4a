"""Alertmanager webhook v4 payloads: one POST carries a group of alerts, each with its own
status (a "firing" group may hold resolved alerts).

`fingerprint` (0.19+), `truncatedAlerts` (0.21+), `notification_reason` (0.32+) and
`routeLabels` (0.34+) are all optional. Grafana's unified alerting webhook has the same shape
and reuses `convert_group`.
"""

from __future__ import annotations

from correlator.adapters.fields import Converted, Rejected, json_type, obj, rfc3339, str_map
from correlator.core.alerts import Alert, AlertError, labels_fingerprint, normalise_severity
from correlator.core.timefmt import Millis

FORMAT = "alertmanager"


def convert(data: object, received_at: Millis) -> Converted:
    """Every alert of an Alertmanager webhook payload; a bad alert is rejected on its own."""
    return convert_group(data, received_at, FORMAT)


def convert_group(data: object, received_at: Millis, source: str) -> Converted:
    payload = obj(data, f"{source} payload")
    alerts = payload.get("alerts")
    if type(alerts) is not list:
        what = "nothing" if alerts is None else json_type(alerts)
        raise AlertError(f"{source} payload: 'alerts' must be an array, got {what}")
    out = Converted()
    append = out.alerts.append
    for index, item in enumerate(alerts):
        try:
            append(convert_alert(item, received_at, source))
        except AlertError as exc:
            out.rejected.append(Rejected(f"{source} alerts[{index}]: {exc}", item))
    truncated = payload.get("truncatedAlerts")
    if type(truncated) is int and truncated > 0:
        out.notes.append(
            f"{source}: the sender truncated {truncated} alert(s) from this group (max_alerts)"
        )
    return out


def convert_alert(item: object, received_at: Millis, source: str) -> Alert:
    """One alert of the group: labels as they are, fingerprint or a hash of the labels."""
    if type(item) is not dict:
        raise AlertError(f"must be a JSON object, got {json_type(item)}")
    status = item.get("status")
    if status != "firing" and status != "resolved":
        raise AlertError(f"status must be 'firing' or 'resolved', got {_short(status)}")
    labels = str_map(item.get("labels"), "labels")
    fingerprint = item.get("fingerprint")
    if type(fingerprint) is not str or not fingerprint:
        if fingerprint is not None and type(fingerprint) is not str:
            raise AlertError(f"fingerprint must be a string, got {json_type(fingerprint)}")
        if not labels:
            raise AlertError("alert has neither a fingerprint nor labels")
        fingerprint = labels_fingerprint(labels)
    annotations = str_map(item.get("annotations"), "annotations")
    alert = Alert(
        fingerprint=fingerprint,
        status=status,
        severity=normalise_severity(labels.get("severity")),
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
