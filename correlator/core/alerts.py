"""The canonical alert every adapter produces (DESIGN §4), and its canonical JSON form."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from correlator.core.timefmt import MINUTE, Millis, TimeFormatError, format_time, parse_time

Status = Literal["firing", "resolved"]
AlertSeverity = Literal["critical", "warning", "info"]
"""How bad an alert says it is (incidents have `IncidentSeverity`, SEV1–4)."""
Health = Literal["down", "degraded", "healthy"]

SEVERITY_RANK: Mapping[str, int] = {"critical": 2, "warning": 1, "info": 0}
MAX_FUTURE: Millis = 5 * MINUTE
"""An event time further than this after `received_at` is invalid (a clock gone wrong). There
is no bound into the past: Alertmanager re-sends a long-firing alert with its original
`startsAt`, days old, and it must count (DESIGN §4 "Time")."""
RECORDED: Millis = -1
"""`received_at` of an alert decoded from a recording (replay): stamped after decoding with
the alert's own event time, so the 5 min window is not checked against it."""
NO_SEVERITY: AlertSeverity = "warning"
"""The severity of an alert that names none (Grafana's default, many Alertmanager rules): a
firing alert is never silently ignored, and never claims customers are cut off unasked."""

_SEVERITY_WORDS: dict[str, AlertSeverity] = {
    **dict.fromkeys(
        (
            "critical",
            "crit",
            "page",
            "error",
            "err",
            "high",
            "severe",
            "fatal",
            "emergency",
            "emerg",
            "alert",
            "disaster",
            "major",  # ITU X.733: service-affecting, urgent corrective action required
            "p1",
            "p2",
            "1",
            "2",
        ),
        "critical",
    ),
    **dict.fromkeys(("warning", "warn", "medium", "average", "minor", "p3", "3"), "warning"),
    **dict.fromkeys(
        (
            "info",
            "informational",
            "information",
            "notice",
            "debug",
            "low",
            "none",
            "ok",
            "p4",
            "p5",
            "4",
            "5",
        ),
        "info",
    ),
}


class AlertError(ValueError):
    """An alert that cannot be accepted; the message is the dead-letter reason."""


def normalise_severity(value: object) -> AlertSeverity:
    """A severity word or priority (case-insensitive; DESIGN §4) → critical, warning or info.

    critical/error/high/severe/fatal/…/P1/P2 (and Opsgenie's numeric 1, 2) → critical;
    warning/medium/average/P3 (3) → warning; only an explicit info/informational/low/none/ok/
    P4/P5 (4, 5) → info. No severity at all, or a word nobody defined, is `NO_SEVERITY`
    (warning): a firing alert is never silently ignored.
    """
    if value is None:
        return NO_SEVERITY
    if type(value) is str:
        found = _SEVERITY_WORDS.get(value)
        if found is not None:  # the common case: an exact lower-case word
            return found
        text = value.strip().lower()
    elif type(value) is int or (type(value) is float and value.is_integer()):
        text = str(int(value))
    else:
        return NO_SEVERITY
    return _SEVERITY_WORDS.get(text, NO_SEVERITY)


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable hash of the sorted labels, for alerts that carry no fingerprint."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert about one thing, in canonical form."""

    fingerprint: str
    status: Status
    severity: AlertSeverity
    labels: Mapping[str, str]
    received_at: Millis
    annotations: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""
    starts_at: Millis | None = None
    ends_at: Millis | None = None
    source: str = "canonical"
    heartbeat: bool = False
    """Set by a `heartbeat: true` alert rule of the topology (`core/alert_rules.py`): a
    heartbeat source, never an incident. Not part of the canonical JSON form."""

    @property
    def event_time(self) -> Millis:
        """The time of the change this alert reports (DESIGN §4 "Time")."""
        if self.status == "resolved":
            return self.ends_at if self.ends_at is not None else self.received_at
        return self.starts_at if self.starts_at is not None else self.received_at

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    def check_time(self) -> None:
        """Raise `AlertError` when the event time is in the future of `received_at` (more than
        5 min). Old event times are valid; absurd ones (before 1970, after 9999) never get here:
        the readers of each format reject them."""
        if self.received_at == RECORDED:
            return
        t = self.event_time
        if t > self.received_at + MAX_FUTURE:
            raise AlertError(
                f"event time {format_time(t)} is more than 5 min after received_at "
                f"{format_time(self.received_at)}"
            )


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """The canonical JSON form (all timestamps RFC 3339)."""
    return {
        "fingerprint": alert.fingerprint,
        "status": alert.status,
        "severity": alert.severity,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "summary": alert.summary,
        "starts_at": None if alert.starts_at is None else format_time(alert.starts_at),
        "ends_at": None if alert.ends_at is None else format_time(alert.ends_at),
        "source": alert.source,
        "received_at": format_time(alert.received_at),
    }


def _str_map(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AlertError(f"{what} must be an object")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise AlertError(f"{what} keys must be strings")
        if isinstance(v, Mapping | list):
            # Liberal (DESIGN §4): a nested value is kept as its JSON text.
            out[k] = json.dumps(v, separators=(",", ":"), ensure_ascii=False, default=str)
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        else:
            out[k] = "" if v is None else str(v)
    return out


def _opt_time(value: object, what: str) -> Millis | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AlertError(f"{what} must be an RFC 3339 string")
    if value.startswith("0001-01-01"):
        return None
    try:
        return parse_time(value)
    except TimeFormatError as exc:
        raise AlertError(f"{what}: {exc}") from None


def alert_from_dict(data: object, received_at: Millis, source: str = "canonical") -> Alert:
    """Decode the canonical JSON form; `received_at` fills in when the record has none."""
    if not isinstance(data, Mapping):
        raise AlertError("canonical alert must be a JSON object")
    status = data.get("status")
    if status not in ("firing", "resolved"):
        raise AlertError(f"status must be 'firing' or 'resolved', got {status!r}")
    labels = _str_map(data.get("labels"), "labels")
    annotations = _str_map(data.get("annotations"), "annotations")
    fingerprint = data.get("fingerprint")
    if isinstance(fingerprint, int | float) and not isinstance(fingerprint, bool):
        fingerprint = str(fingerprint)
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise AlertError("fingerprint must be a string")
    if not fingerprint:
        if not labels:
            raise AlertError("alert has neither a fingerprint nor labels")
        fingerprint = labels_fingerprint(labels)
    received = _opt_time(data.get("received_at"), "received_at")
    summary = data.get("summary")
    if summary is None:
        summary = annotations.get("summary") or annotations.get("description") or ""
    if not isinstance(summary, str):
        raise AlertError("summary must be a string")
    raw_source = data.get("source", source)
    alert = Alert(
        fingerprint=fingerprint,
        status=status,
        severity=normalise_severity(data.get("severity", labels.get("severity"))),
        labels=labels,
        annotations=annotations,
        summary=summary,
        starts_at=_opt_time(data.get("starts_at"), "starts_at"),
        ends_at=_opt_time(data.get("ends_at"), "ends_at"),
        source=str(raw_source) if raw_source else source,
        received_at=received if received is not None else received_at,
    )
    alert.check_time()
    return alert
