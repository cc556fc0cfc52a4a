"""Raw payload bytes → canonical alerts, dead letters and notes (DESIGN §4).

`decode_payload` is the one entry point: it enforces the size limit, parses JSON with orjson,
detects the format from the payload's shape (or takes the one the producer named) and hands the
value to that format's adapter. Bad input never raises: a payload that cannot be read at all
becomes one dead letter with an excerpt of its bytes; a bad alert inside a good payload becomes
a dead letter of its own while the payload's other alerts are kept.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

import orjson

from correlator.adapters import alertmanager, canonical, cloudwatch, grafana, opsgenie, pagerduty
from correlator.adapters.fields import Converted, json_type
from correlator.core.alerts import RECORDED, Alert, AlertError
from correlator.core.timefmt import Millis

MAX_BYTES = 1_048_576
"""Default payload size limit (DESIGN §4: 1 MiB)."""
EXCERPT_BYTES = 4096
"""A dead letter's excerpt is at most this many characters, whichever its encoding."""

Converter = Callable[[object, Millis], Converted]
FORMATS: Mapping[str, Converter] = {
    "alertmanager": alertmanager.convert,
    "grafana": grafana.convert,
    "pagerduty": pagerduty.convert,
    "cloudwatch": cloudwatch.convert,
    "opsgenie": opsgenie.convert,
    "canonical": canonical.convert,
}
"""Every supported format by the name a producer may give it."""

ExcerptEncoding = Literal["utf-8", "base64"]
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input that could not become an alert: why, which adapter saw it, and what it was."""

    reason: str
    source: str
    """The format that was decoding it, or "unknown"."""
    received_at: Millis
    excerpt: str
    """At most 4 KiB of the original: UTF-8 text, or base64 of the bytes when they are not."""
    excerpt_encoding: ExcerptEncoding


@dataclass(frozen=True, slots=True)
class Decoded:
    """Everything one payload yielded. `format` is None when no format could be told."""

    alerts: tuple[Alert, ...]
    dead_letters: tuple[DeadLetter, ...]
    notes: tuple[str, ...]
    format: str | None


def decode_payload(
    raw: bytes,
    received_at: Millis,
    *,
    fmt: str | None = None,
    max_bytes: int = MAX_BYTES,
    recorded: bool = False,
) -> Decoded:
    """Decode one raw payload of any supported format (or of `fmt`, when the producer named it).

    Never raises on bad input; `received_at` is the ingress time, the clock is never read.
    With `recorded` (replaying a recording whose arrival times are unknown), each alert is
    taken as received at its own event time, and `received_at` only stands in for alerts
    whose format carries none (a PagerDuty resolve).
    """
    try:
        if recorded:
            return _restamp(_decode(raw, RECORDED, fmt, max_bytes), received_at)
        return _decode(raw, received_at, fmt, max_bytes)
    except Exception as exc:  # last resort: the worker never crashes on input
        reason = f"internal error while decoding: {type(exc).__name__}: {exc}"
        return _rejected_payload(reason[:500], raw, received_at, fmt if fmt in FORMATS else None)


def detect(data: object) -> str | None:
    """The format a decoded payload's shape belongs to, or None."""
    if type(data) is list:
        return "canonical"
    if type(data) is not dict:
        return None
    if "alerts" in data:
        return "grafana" if "orgId" in data or data.get("version") == "1" else "alertmanager"
    if grafana.is_legacy(data):
        return "grafana"
    if "event_action" in data:
        return "pagerduty"
    if "action" in data and "alert" in data:
        return "opsgenie"
    records = data.get("Records")
    if type(records) is list:
        if any(type(r) is dict and "Sns" in r for r in records):
            return "cloudwatch"
        return None
    if data.get("Type") in cloudwatch.SNS_TYPES and ("Message" in data or "TopicArn" in data):
        return "cloudwatch"
    if "AlarmName" in data and "NewStateValue" in data:
        return "cloudwatch"
    if "status" in data and ("labels" in data or "fingerprint" in data):
        return "canonical"
    return None


def excerpt(raw: bytes) -> tuple[str, ExcerptEncoding]:
    """At most `EXCERPT_BYTES` characters of `raw`: its text when the head is valid UTF-8
    (cut at a character boundary), else base64 of as many bytes as fit."""
    if len(raw) <= EXCERPT_BYTES:
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    else:
        # A UTF-8 character is at most 4 bytes: a cut inside one leaves at most 3 to drop.
        for cut in range(EXCERPT_BYTES, EXCERPT_BYTES - 4, -1):
            try:
                return raw[:cut].decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                continue
    return base64.b64encode(raw[: EXCERPT_BYTES // 4 * 3]).decode("ascii"), "base64"


def _decode(raw: bytes, received_at: Millis, fmt: str | None, max_bytes: int) -> Decoded:
    if not isinstance(raw, bytes):
        raw = bytes(raw)
    if fmt is not None and fmt not in FORMATS:
        names = ", ".join(FORMATS)
        reason = f"unknown format name {fmt[:40]!r} (supported: {names})"
        return _rejected_payload(reason, raw, received_at, None)
    if len(raw) > max_bytes:
        reason = f"payload is {len(raw)} bytes, over the {max_bytes}-byte limit"
        return _rejected_payload(reason, raw, received_at, fmt)
    if not raw.strip():
        return _rejected_payload("empty payload", raw, received_at, fmt)
    try:
        data = orjson.loads(raw[3:] if raw.startswith(_BOM) else raw)
    except orjson.JSONDecodeError as exc:
        return _rejected_payload(_json_reason(raw, exc), raw, received_at, fmt)
    name = fmt or detect(data)
    if name is None:
        return _rejected_payload(_unknown_reason(data), raw, received_at, None)
    try:
        out = FORMATS[name](data, received_at)
    except AlertError as exc:
        reason = str(exc)
        if not reason.startswith(name):
            reason = f"{name}: {reason}"
        return _rejected_payload(reason, raw, received_at, name)
    dead = tuple(
        DeadLetter(r.reason, name, received_at, *_item_excerpt(r.item, raw)) for r in out.rejected
    )
    return Decoded(tuple(out.alerts), dead, tuple(out.notes), name)


def _restamp(decoded: Decoded, fallback: Millis) -> Decoded:
    """Stamp each alert of a recording with its own event time. An alert without one (a
    resolve whose sender left `endsAt` unset) takes the newest time its payload carries — its
    own `startsAt`, or any time of the other alerts of the same notification, which was sent
    no earlier than all of them — and only a payload without any time takes `fallback`."""
    alerts = []
    newest: Millis | None = None
    for alert in decoded.alerts:
        for t in (alert.starts_at, alert.ends_at):
            if t is not None and (newest is None or t > newest):
                newest = t
    for alert in decoded.alerts:
        if alert.received_at == RECORDED:
            own = alert.event_time
            if own == RECORDED:
                own = newest if newest is not None else fallback
            alert = replace(alert, received_at=own)
        alerts.append(alert)
    dead = tuple(
        replace(d, received_at=fallback) if d.received_at == RECORDED else d
        for d in decoded.dead_letters
    )
    return Decoded(tuple(alerts), dead, decoded.notes, decoded.format)


def _rejected_payload(reason: str, raw: bytes, received_at: Millis, fmt: str | None) -> Decoded:
    text, encoding = excerpt(raw)
    letter = DeadLetter(reason, fmt or "unknown", received_at, text, encoding)
    return Decoded((), (letter,), (), fmt)


def _item_excerpt(item: object, raw: bytes) -> tuple[str, ExcerptEncoding]:
    """The rejected item itself re-encoded, which says more than the head of its payload."""
    try:
        return excerpt(orjson.dumps(item))
    except (TypeError, orjson.JSONEncodeError):
        return excerpt(raw)


def _json_reason(raw: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"payload is not valid UTF-8 (byte 0x{raw[bad.start]:02x} at offset {bad.start})"
    return f"invalid JSON: {exc}"[:300]


def _unknown_reason(data: object) -> str:
    supported = ", ".join(FORMATS)
    if type(data) is dict and data.get("apiVersion") == "correlator/v1":
        return "a correlator topology, not an alert payload"
    if type(data) is dict:
        keys = sorted(str(k)[:40] for k in data)
        shown = ", ".join(keys[:10]) + (", …" if len(keys) > 10 else "")
        what = f"a JSON object with keys {shown}" if keys else "an empty JSON object"
    else:
        what = f"a JSON {json_type(data)}"
    if type(data) is dict and type(data.get("Records")) is list:
        what += " (AWS event records that are not SNS notifications)"
    return f"unknown alert format: {what} (supported: {supported})"
