"""The malformed corpus: every kind of bad input becomes a dead letter with a clear reason."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from correlator.adapters import DeadLetter, Decoded, decode_payload
from correlator.core.timefmt import format_time

R = 1_700_000_000_000  # received_at: 2023-11-14T22:13:20Z
NOW = format_time(R - 60_000)
SUPPORTED = "(supported: alertmanager, grafana, pagerduty, cloudwatch, opsgenie, canonical)"


def am(**alert: Any) -> bytes:
    """An Alertmanager payload holding one alert: a valid one with `alert`'s fields replaced."""
    base: dict[str, Any] = {
        "status": "firing",
        "labels": {"alertname": "Down", "job": "cart"},
        "startsAt": NOW,
        "endsAt": "0001-01-01T00:00:00Z",
    }
    base.update(alert)
    return orjson.dumps({"version": "4", "status": "firing", "alerts": [base]})


def pd(**event: Any) -> bytes:
    base: dict[str, Any] = {
        "routing_key": "rk",
        "dedup_key": "dk",
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "db-2", "severity": "error", "timestamp": NOW},
    }
    base.update(event)
    return orjson.dumps(base)


def pd_payload(**payload: Any) -> bytes:
    inner = {"summary": "s", "source": "db-2", "severity": "error", "timestamp": NOW}
    inner.update(payload)
    return pd(payload=inner)


def sns(message: object, **envelope: Any) -> bytes:
    body = message if isinstance(message, str) else orjson.dumps(message).decode()
    base: dict[str, Any] = {"Type": "Notification", "TopicArn": "arn:t", "Message": body}
    base.update(envelope)
    return orjson.dumps(base)


def alarm(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "AlarmName": "high-cpu",
        "NewStateValue": "ALARM",
        "StateChangeTime": NOW,
        "AlarmArn": "arn:aws:cloudwatch:eu-west-1:1:alarm:high-cpu",
    }
    base.update(fields)
    return base


def og(**alert: Any) -> bytes:
    base: dict[str, Any] = {"alias": "a1", "createdAt": R - 1000, "entity": "cart"}
    base.update(alert)
    return orjson.dumps({"action": "Create", "alert": base})


MALFORMED = [
    # payload level: bytes, JSON, size, format
    (b"", None, "empty payload", "unknown"),
    (b" \n\t", None, "empty payload", "unknown"),
    (b"{not json", None, "invalid JSON: *", "unknown"),
    (b'{"alerts": [', None, "invalid JSON: *", "unknown"),
    (b"[" * 2000, None, "invalid JSON: depth limit exceeded*", "unknown"),
    (b'{"a": 1e999}', None, "invalid JSON: number is infinity*", "unknown"),
    (b'\xff\xfe{"a": 1}', None, "payload is not valid UTF-8 (byte 0xff at offset 0)", "unknown"),
    (b'{"a": "caf\xe9"}', None, "payload is not valid UTF-8 (byte 0xe9 at offset 10)", "unknown"),
    (b"42", None, f"unknown alert format: a JSON number {SUPPORTED}", "unknown"),
    (b'"firing"', None, f"unknown alert format: a JSON string {SUPPORTED}", "unknown"),
    (b"null", None, f"unknown alert format: a JSON null {SUPPORTED}", "unknown"),
    (b"{}", None, f"unknown alert format: an empty JSON object {SUPPORTED}", "unknown"),
    (
        b'{"Records": [{"eventSource": "aws:s3", "s3": {}}]}',
        None,
        "unknown alert format: a JSON object with keys Records (AWS event records that are "
        f"not SNS notifications) {SUPPORTED}",
        "unknown",
    ),
    (
        sns("{}", Type="Weird"),
        None,
        f"unknown alert format: a JSON object with keys Message, TopicArn, Type {SUPPORTED}",
        "unknown",
    ),
    (
        am(),
        "datadog",
        "unknown format name 'datadog' (supported: alertmanager, grafana, pagerduty, "
        "cloudwatch, opsgenie, canonical)",
        "unknown",
    ),
    # Alertmanager / Grafana
    (
        b'{"alerts": {}}',
        None,
        "alertmanager payload: 'alerts' must be an array, got object",
        "alertmanager",
    ),
    (
        b'{"receiver": "x"}',
        "alertmanager",
        "alertmanager payload: 'alerts' must be an array, got nothing",
        "alertmanager",
    ),
    (
        b'{"alerts": [42]}',
        None,
        "alertmanager alerts[0]: must be a JSON object, got number",
        "alertmanager",
    ),
    (
        am(status="pending"),
        None,
        "alertmanager alerts[0]: status must be 'firing' or 'resolved', got 'pending'",
        "alertmanager",
    ),
    (
        am(labels={}),
        None,
        "alertmanager alerts[0]: alert has neither a fingerprint nor labels",
        "alertmanager",
    ),
    (
        am(startsAt="yesterday"),
        None,
        "alertmanager alerts[0]: startsAt: not an RFC 3339 timestamp: 'yesterday'",
        "alertmanager",
    ),
    (
        am(startsAt=1700000000),
        None,
        "alertmanager alerts[0]: startsAt must be an RFC 3339 string, got number",
        "alertmanager",
    ),
    (
        am(startsAt="2023-02-30T00:00:00Z"),
        None,
        "alertmanager alerts[0]: startsAt: invalid timestamp '2023-02-30T00:00:00Z': "
        "day is out of range for month",
        "alertmanager",
    ),
    (
        am(startsAt="1969-12-31T23:59:59Z"),
        None,
        "alertmanager alerts[0]: startsAt is out of range (before 1970 or after 9999)",
        "alertmanager",
    ),
    (
        am(startsAt="9999-12-31T23:59:59Z"),
        None,
        "alertmanager alerts[0]: startsAt is out of range (before 1970 or after 9999)",
        "alertmanager",
    ),
    (
        am(startsAt="2023-11-14T22:23:20Z"),
        None,
        "alertmanager alerts[0]: event time 2023-11-14T22:23:20Z is more than 5 min after "
        "received_at 2023-11-14T22:13:20Z",
        "alertmanager",
    ),
    (
        am(status="resolved", endsAt="2023-11-15T22:30:00Z"),
        None,
        "alertmanager alerts[0]: event time 2023-11-15T22:30:00Z is more than 5 min after "
        "received_at 2023-11-14T22:13:20Z",
        "alertmanager",
    ),
    (
        orjson.dumps({"version": "1", "orgId": 1, "alerts": [{"status": "firing"}]}),
        None,
        "grafana alerts[0]: alert has neither a fingerprint nor labels",
        "grafana",
    ),
    # PagerDuty
    (
        pd(event_action="escalate"),
        None,
        "pagerduty event_action must be trigger, acknowledge or resolve, got 'escalate'",
        "pagerduty",
    ),
    (pd(routing_key=None), None, "pagerduty routing_key is required", "pagerduty"),
    (pd(routing_key=5), None, "pagerduty routing_key must be a string, got number", "pagerduty"),
    (
        pd(event_action="resolve", dedup_key=None),
        None,
        "pagerduty resolve needs a dedup_key",
        "pagerduty",
    ),
    (
        pd(event_action="acknowledge", dedup_key=""),
        None,
        "pagerduty acknowledge needs a dedup_key",
        "pagerduty",
    ),
    (
        pd(dedup_key="k" * 256),
        None,
        "pagerduty dedup_key is longer than 255 characters",
        "pagerduty",
    ),
    (
        pd_payload(timestamp="2015-07-17 08:42"),
        None,
        "pagerduty payload.timestamp: not an RFC 3339 timestamp: '2015-07-17 08:42'",
        "pagerduty",
    ),
    # CloudWatch / SNS
    (sns("not json"), None, "cloudwatch: SNS Message is not JSON (*", "cloudwatch"),
    (sns(5, Message=5), None, "cloudwatch: SNS Message must be a string, got number", "cloudwatch"),
    (
        sns('"text"'),
        None,
        "cloudwatch: SNS Message must be a JSON object, got string",
        "cloudwatch",
    ),
    (
        sns({"foo": 1}),
        None,
        "cloudwatch: not a CloudWatch alarm: AlarmName and NewStateValue are required",
        "cloudwatch",
    ),
    (
        sns(alarm(NewStateValue="BROKEN")),
        None,
        "cloudwatch: NewStateValue must be ALARM, OK or INSUFFICIENT_DATA, got 'BROKEN'",
        "cloudwatch",
    ),
    (
        sns({}, Type="Weird"),
        "cloudwatch",
        "cloudwatch: SNS Type must be one of Notification, SubscriptionConfirmation, "
        "UnsubscribeConfirmation, got 'Weird'",
        "cloudwatch",
    ),
    (
        orjson.dumps({"Records": [{"Sns": None}]}),
        "cloudwatch",
        "cloudwatch Records[0]: Sns must be a JSON object, got null",
        "cloudwatch",
    ),
    (
        orjson.dumps({"Records": {"Sns": {}}}),
        "cloudwatch",
        "cloudwatch Records must be an array, got object",
        "cloudwatch",
    ),
    # Opsgenie
    (
        orjson.dumps({"action": "Create", "alert": None}),
        None,
        "opsgenie alert must be a JSON object, got null",
        "opsgenie",
    ),
    (
        orjson.dumps({"action": 3, "alert": {}}),
        None,
        "opsgenie action must be a string, got number",
        "opsgenie",
    ),
    (
        og(createdAt="yesterday"),
        None,
        "opsgenie: alert.createdAt must be an epoch number, got string",
        "opsgenie",
    ),
    (og(createdAt=-5), None, "opsgenie: alert.createdAt must not be negative, got -5", "opsgenie"),
    (
        og(alias="", entity=""),
        None,
        "opsgenie alert has no alias, alertId, entity, source or key:value tag",
        "opsgenie",
    ),
    # canonical
    (
        orjson.dumps({"status": "open", "labels": {"a": "b"}}),
        None,
        "canonical: status must be 'firing' or 'resolved', got 'open'",
        "canonical",
    ),
    (
        orjson.dumps({"status": "firing", "labels": {"a": "b"}, "starts_at": 5}),
        None,
        "canonical: starts_at must be an RFC 3339 string",
        "canonical",
    ),
    (
        orjson.dumps(
            {"status": "firing", "labels": {"a": "b"}, "starts_at": "0001-01-02T00:00:00+99:99"}
        ),
        None,
        "canonical: starts_at is out of range (before 1970 or after 9999)",
        "canonical",
    ),
    (
        orjson.dumps(
            {"status": "firing", "labels": {"a": "b"}, "received_at": "0001-01-02T00:00:00Z"}
        ),
        None,
        "canonical: received_at is out of range (before 1970 or after 9999)",
        "canonical",
    ),
    (
        orjson.dumps({"status": "pending", "alerts": [{"labels": {"alertname": "Down"}}]}),
        None,
        "alertmanager alerts[0]: status must be 'firing' or 'resolved', got None",
        "alertmanager",
    ),
    (
        am(fingerprint=None, labels=["job", "cart"]),
        None,
        "alertmanager alerts[0]: alert has neither a fingerprint nor labels",
        "alertmanager",
    ),
    (
        pd_payload(timestamp=R),
        None,
        "pagerduty payload.timestamp must be an RFC 3339 string, got number",
        "pagerduty",
    ),
    (
        pd(event_action="resolve", payload={"timestamp": "2023-11-14T22:30:00Z"}),
        None,
        "pagerduty: event time 2023-11-14T22:30:00Z is more than 5 min after received_at "
        "2023-11-14T22:13:20Z",
        "pagerduty",
    ),
    (
        pd(dedup_key={"k": 1}),
        None,
        "pagerduty dedup_key must be a string, got object",
        "pagerduty",
    ),
    (
        sns(alarm(StateChangeTime="2023-11-14T22:30:00Z")),
        None,
        "cloudwatch: event time 2023-11-14T22:30:00Z is more than 5 min after received_at "
        "2023-11-14T22:13:20Z",
        "cloudwatch",
    ),
    (
        og(createdAt=R + 3_600_000),
        None,
        "opsgenie: event time 2023-11-14T23:13:20Z is more than 5 min after received_at "
        "2023-11-14T22:13:20Z",
        "opsgenie",
    ),
    (
        orjson.dumps(
            {
                "evalMatches": [{"value": 1, "metric": "Count", "tags": {}}],
                "orgId": 1,
                "ruleId": 1,
                "ruleName": "Panel Title alert",
                "state": "alerting",
                "title": "[Alerting] Panel Title alert",
            }
        ),
        None,
        "grafana: a legacy Grafana alerting payload (evalMatches, ruleName: dashboard alerts, "
        "removed in Grafana 11) is not supported; send from a Grafana Alerting contact point "
        "of type webhook, whose payload carries 'alerts'",
        "grafana",
    ),
    # a payload forced into the wrong format
    (
        am(),
        "pagerduty",
        "pagerduty event_action must be trigger, acknowledge or resolve, got None",
        "pagerduty",
    ),
]


@pytest.mark.parametrize(("raw", "fmt", "reason", "source"), MALFORMED)
def test_malformed(raw: bytes, fmt: str | None, reason: str, source: str) -> None:
    decoded = decode_payload(raw, R, fmt=fmt)
    assert decoded.alerts == ()
    assert len(decoded.dead_letters) == 1, decoded
    letter = decoded.dead_letters[0]
    if reason.endswith("*"):
        assert letter.reason.startswith(reason[:-1]), letter.reason
    else:
        assert letter.reason == reason
    assert (letter.source, letter.received_at) == (source, R)
    assert decoded.format == (None if source == "unknown" else source)


def test_oversize_payload() -> None:
    raw = am()
    assert decode_payload(raw, R, max_bytes=100) == Decoded(
        alerts=(),
        dead_letters=(
            DeadLetter(
                reason=f"payload is {len(raw)} bytes, over the 100-byte limit",
                source="unknown",
                received_at=R,
                excerpt=raw.decode(),
                excerpt_encoding="utf-8",
            ),
        ),
        notes=(),
        format=None,
    )


def test_default_size_limit_is_one_mebibyte() -> None:
    padding = b" " * (1_048_576 - len(am()))
    assert decode_payload(am() + padding, R).alerts != ()
    decoded = decode_payload(am() + padding + b" ", R)
    assert decoded.dead_letters[0].reason == (
        "payload is 1048577 bytes, over the 1048576-byte limit"
    )


def test_good_alerts_of_a_payload_survive_a_bad_one() -> None:
    good = {"status": "firing", "labels": {"job": "cart"}, "startsAt": NOW}
    bad = {"status": "firing", "labels": {"job": "cart"}, "startsAt": "not a time"}
    resolved = {"status": "resolved", "labels": {"job": "db"}, "endsAt": NOW}
    raw = orjson.dumps({"version": "4", "alerts": [good, bad, resolved]})
    decoded = decode_payload(raw, R)
    assert [(a.labels["job"], a.status) for a in decoded.alerts] == [
        ("cart", "firing"),
        ("db", "resolved"),
    ]
    assert decoded.dead_letters == (
        DeadLetter(
            reason="alertmanager alerts[1]: startsAt: not an RFC 3339 timestamp: 'not a time'",
            source="alertmanager",
            received_at=R,
            # the rejected alert itself, which says more than the head of its payload
            excerpt=orjson.dumps(bad).decode(),
            excerpt_encoding="utf-8",
        ),
    )
    assert decoded.format == "alertmanager"


def test_good_elements_of_a_canonical_array_survive_a_bad_one() -> None:
    raw = orjson.dumps(
        [
            {"status": "firing", "labels": {"a": "1"}, "starts_at": NOW},
            {"status": "firing"},
            {"status": "resolved", "labels": {"a": "2"}, "ends_at": NOW},
        ]
    )
    decoded = decode_payload(raw, R)
    assert [a.labels for a in decoded.alerts] == [{"a": "1"}, {"a": "2"}]
    assert [d.reason for d in decoded.dead_letters] == [
        "canonical [1]: alert has neither a fingerprint nor labels"
    ]


def test_good_records_of_a_lambda_event_survive_a_bad_one() -> None:
    good = {"Sns": orjson.loads(sns(alarm()))}
    raw = orjson.dumps({"Records": [good, {"Sns": {"Type": "Notification"}}, good]})
    decoded = decode_payload(raw, R)
    assert len(decoded.alerts) == 2
    assert [d.reason for d in decoded.dead_letters] == [
        "cloudwatch Records[1]: SNS Message is required"
    ]


def test_non_utf8_excerpt_is_base64_of_at_most_3_kib() -> None:
    raw = b"\xff" * 10_000
    letter = decode_payload(raw, R).dead_letters[0]
    assert letter.excerpt_encoding == "base64"
    assert len(letter.excerpt) == 4096
    assert base64.b64decode(letter.excerpt) == raw[:3072]


def test_long_utf8_excerpt_is_cut_at_a_character_boundary() -> None:
    raw = b"x" + "é".encode() * 5000  # 2-byte characters: byte 4096 falls inside one
    letter = decode_payload(raw, R).dead_letters[0]
    assert letter.excerpt_encoding == "utf-8"
    assert letter.excerpt == "x" + "é" * 2047
    assert len(letter.excerpt.encode()) <= 4096
