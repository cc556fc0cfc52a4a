"""Per-format behaviour beyond the public samples: statuses, notes, identity, fingerprints."""

from __future__ import annotations

from typing import Any

import orjson

from correlator.adapters import Decoded, decode_payload
from correlator.core.alerts import Alert, alert_to_dict
from correlator.core.timefmt import format_time, parse_time

R = 1_700_000_000_000  # 2023-11-14T22:13:20Z
T1 = R - 120_000
T2 = R - 60_000


def dumps(value: object) -> bytes:
    return orjson.dumps(value)


# Alertmanager / Grafana


def test_alertmanager_group_with_mixed_statuses() -> None:
    payload = {
        "version": "4",
        "status": "firing",
        "notification_reason": "repeat_interval",
        "routeLabels": {"team": "shop"},
        "truncatedAlerts": 3,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Down", "job": "cart", "severity": "page"},
                "annotations": {"description": "cart is down"},
                "startsAt": format_time(T1),
                "endsAt": format_time(R + 240_000),
                "fingerprint": "f1",
            },
            {
                "status": "resolved",
                "labels": {"alertname": "Down", "job": "db", "severity": "warning"},
                "startsAt": format_time(T1),
                "endsAt": format_time(T2),
                "fingerprint": "f2",
            },
        ],
    }
    assert decode_payload(dumps(payload), R) == Decoded(
        alerts=(
            Alert(
                fingerprint="f1",
                status="firing",
                severity="critical",
                labels={"alertname": "Down", "job": "cart", "severity": "page"},
                received_at=R,
                annotations={"description": "cart is down"},
                summary="cart is down",
                starts_at=T1,
                ends_at=R + 240_000,
                source="alertmanager",
            ),
            Alert(
                fingerprint="f2",
                status="resolved",
                severity="warning",
                labels={"alertname": "Down", "job": "db", "severity": "warning"},
                received_at=R,
                starts_at=T1,
                ends_at=T2,
                source="alertmanager",
            ),
        ),
        dead_letters=(),
        notes=("alertmanager: the sender truncated 3 alert(s) from this group (max_alerts)",),
        format="alertmanager",
    )


def test_resolved_alert_without_ends_at_uses_received_at() -> None:
    payload = {"alerts": [{"status": "resolved", "labels": {"job": "x"}, "startsAt": ""}]}
    (alert,) = decode_payload(dumps(payload), R).alerts
    assert (alert.ends_at, alert.event_time) == (None, R)


def test_non_string_label_values_become_text() -> None:
    payload = {"alerts": [{"status": "firing", "labels": {"a": 1, "b": True, "c": None}}]}
    (alert,) = decode_payload(dumps(payload), R).alerts
    assert alert.labels == {"a": "1", "b": "true"}


def test_named_format_overrides_detection() -> None:
    payload = {"version": "1", "orgId": 1, "alerts": [{"status": "firing", "labels": {"a": "b"}}]}
    assert decode_payload(dumps(payload), R).alerts[0].source == "grafana"
    assert decode_payload(dumps(payload), R, fmt="alertmanager").alerts[0].source == "alertmanager"


def test_utf8_bom_is_tolerated() -> None:
    payload = {"alerts": [{"status": "firing", "labels": {"a": "b"}}]}
    assert len(decode_payload(b"\xef\xbb\xbf" + dumps(payload), R).alerts) == 1


# PagerDuty


def trigger(**payload: Any) -> dict[str, Any]:
    inner = {"summary": "disk full", "source": "db-2.prod", "severity": "error"}
    inner.update(payload)
    return {
        "routing_key": "R0UT1NG",
        "dedup_key": "disk-db-2",
        "event_action": "trigger",
        "payload": inner,
    }


def test_pagerduty_trigger_then_resolve_share_the_fingerprint() -> None:
    fired = decode_payload(dumps(trigger(timestamp=format_time(T1))), T2)
    resolve = {"routing_key": "R0UT1NG", "dedup_key": "disk-db-2", "event_action": "resolve"}
    resolved = decode_payload(dumps(resolve), R)
    assert fired.alerts[0].fingerprint == resolved.alerts[0].fingerprint
    assert (fired.alerts[0].status, resolved.alerts[0].status) == ("firing", "resolved")
    assert (resolved.alerts[0].labels, resolved.alerts[0].event_time) == ({}, R)
    # the routing key is a secret: scoped by, but not spelled in, the fingerprint
    assert "R0UT1NG" not in fired.alerts[0].fingerprint
    other = decode_payload(dumps({**resolve, "routing_key": "OTHER"}), R)
    assert other.alerts[0].fingerprint != resolved.alerts[0].fingerprint


def test_pagerduty_labels_and_severity() -> None:
    event = trigger(
        component="postgres",
        group="prod",
        custom_details={"host": "spoof", "free": 0, "ok": False, "nested": {"a": 1}, "none": None},
    )
    (alert,) = decode_payload(dumps(event), R).alerts
    assert alert.labels == {
        "host": "db-2.prod",
        "free": "0",
        "ok": "false",
        "component": "postgres",
        "group": "prod",
    }
    assert (alert.severity, alert.starts_at, alert.event_time) == ("critical", None, R)


def test_pagerduty_trigger_without_dedup_key_gets_a_stable_one() -> None:
    def fingerprint(event: dict[str, Any]) -> str:
        del event["dedup_key"]
        return decode_payload(dumps(event), R).alerts[0].fingerprint

    first = fingerprint(trigger(timestamp=format_time(T1), custom_details={"free": "1%"}))
    again = fingerprint(trigger(timestamp=format_time(T2), custom_details={"free": "0%"}))
    other = fingerprint(trigger(source="db-3.prod"))
    assert first == again != other
    assert first.startswith("pd:") and ":auto-" in first


# CloudWatch / SNS


def alarm(**fields: Any) -> dict[str, Any]:
    base = {
        "AlarmName": "high-cpu",
        "AlarmDescription": "",
        "NewStateValue": "ALARM",
        "StateChangeTime": format_time(T1).replace("Z", "+0000"),
        "AlarmArn": "arn:aws:cloudwatch:eu-west-1:1:alarm:high-cpu",
        "Trigger": {
            "Namespace": "AWS/RDS",
            "Dimensions": [{"name": "DBInstanceIdentifier", "value": "orders-db-1"}],
        },
    }
    base.update(fields)
    return base


def envelope(message: dict[str, Any]) -> bytes:
    return dumps({"Type": "Notification", "TopicArn": "arn:t", "Message": dumps(message).decode()})


def test_cloudwatch_ok_resolves_at_state_change_time() -> None:
    decoded = decode_payload(envelope(alarm(NewStateValue="OK")), R)
    assert decoded == Decoded(
        alerts=(
            Alert(
                fingerprint="arn:aws:cloudwatch:eu-west-1:1:alarm:high-cpu",
                status="resolved",
                severity="critical",
                labels={
                    "DBInstanceIdentifier": "orders-db-1",
                    "alarm": "high-cpu",
                    "namespace": "AWS/RDS",
                    # from the AlarmArn: the region code and account
                    "region": "eu-west-1",
                    "account": "1",
                },
                received_at=R,
                summary="high-cpu",
                ends_at=T1,
                source="cloudwatch",
            ),
        ),
        dead_letters=(),
        notes=(),
        format="cloudwatch",
    )


def test_cloudwatch_insufficient_data_is_a_note() -> None:
    decoded = decode_payload(envelope(alarm(NewStateValue="INSUFFICIENT_DATA")), R)
    assert decoded == Decoded(
        (),
        (),
        ("cloudwatch alarm 'high-cpu' is INSUFFICIENT_DATA: no change of health",),
        "cloudwatch",
    )


def test_sns_subscription_confirmation_is_a_note() -> None:
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
        "Message": "You have chosen to subscribe to the topic …",
        "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2012-04-26T20:45:04.751Z",
    }
    assert decode_payload(dumps(confirmation), R) == Decoded(
        alerts=(),
        dead_letters=(),
        notes=(
            "SNS subscription confirmation for arn:aws:sns:us-west-2:123456789012:MyTopic: "
            "not an alert; confirm it by visiting its SubscribeURL "
            "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
        ),
        format="cloudwatch",
    )


def test_bare_alarm_and_metric_math_dimensions() -> None:
    message = alarm(
        Trigger={
            "Metrics": [
                {"Id": "e1", "Expression": "m1 / 60"},
                {
                    "Id": "m1",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/EC2",
                            "Dimensions": [{"name": "InstanceId", "value": "i-0abc"}],
                        }
                    },
                },
            ]
        }
    )
    (alert,) = decode_payload(dumps(message), R).alerts
    assert alert.labels == {
        "InstanceId": "i-0abc",
        "alarm": "high-cpu",
        "region": "eu-west-1",
        "account": "1",
    }


# Opsgenie


def opsgenie(action: str, **alert: Any) -> bytes:
    base = {
        "alias": "disk-db-2",
        "alertId": "id-1",
        "createdAt": T1,
        "updatedAt": T2 * 1_000_000 + 123_456,
        "message": "Disk full",
        "entity": "db-2",
    }
    base.update(alert)
    return dumps({"action": action, "alert": base, "source": {"name": "web", "type": "API"}})


def test_opsgenie_close_resolves_at_updated_at() -> None:
    (alert,) = decode_payload(opsgenie("Close"), R).alerts
    assert (alert.fingerprint, alert.status, alert.ends_at, alert.event_time) == (
        "disk-db-2",
        "resolved",
        T2,
        T2,
    )


def test_opsgenie_tags_priority_and_identity() -> None:
    raw = opsgenie(
        "Create",
        priority="P1",
        tags=["host:db-2.prod", "entity:spoof", "urgent"],
        source="prometheus",
    )
    (alert,) = decode_payload(raw, R).alerts
    assert alert.labels == {"host": "db-2.prod", "entity": "db-2", "source": "prometheus"}
    assert (alert.severity, alert.starts_at, alert.summary) == ("critical", T1, "Disk full")
    assert alert.annotations == {"alert_id": "id-1", "tags": "urgent"}


def test_opsgenie_other_actions_are_notes() -> None:
    assert decode_payload(opsgenie("AddNote"), R).notes == (
        "opsgenie AddNote of alert 'disk-db-2': no change of health",
    )


# canonical


def test_canonical_round_trip_and_array() -> None:
    alert = Alert(
        fingerprint="fp",
        status="firing",
        severity="warning",
        labels={"component": "cart"},
        received_at=T2,
        annotations={"summary": "slow"},
        summary="slow",
        starts_at=T1,
        source="replay",
    )
    single = decode_payload(dumps(alert_to_dict(alert)), R)
    assert single == Decoded((alert,), (), (), "canonical")
    many = decode_payload(dumps([alert_to_dict(alert)] * 2), R)
    assert many == Decoded((alert, alert), (), (), "canonical")


# Liberal handling of optional fields (DESIGN §4 "Be liberal in what you accept")


def test_alert_without_its_own_status_takes_the_group_status() -> None:
    payload = {
        "version": "4",
        "status": "firing",
        "alerts": [{"labels": {"alertname": "Down", "job": "cart"}, "startsAt": format_time(T1)}],
    }
    [alert] = decode_payload(dumps(payload), R).alerts
    assert (alert.status, alert.severity, alert.event_time) == ("firing", "warning", T1)


def test_odd_optional_alertmanager_fields_are_kept_as_text_with_a_note() -> None:
    payload = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "disk": {"name": "sda"}},
                "annotations": "free text",
                "startsAt": format_time(T1),
                "fingerprint": 12,
            }
        ],
    }
    assert decode_payload(dumps(payload), R) == Decoded(
        alerts=(
            Alert(
                fingerprint="12",
                status="firing",
                severity="warning",
                labels={"alertname": "DiskFull", "disk": '{"name":"sda"}'},
                received_at=R,
                starts_at=T1,
                source="alertmanager",
            ),
        ),
        dead_letters=(),
        notes=(
            "alertmanager alerts[0] labels.disk: a JSON object, kept as JSON text",
            "alertmanager alerts[0] annotations: a JSON string, not an object: dropped",
        ),
        format="alertmanager",
    )


def test_pagerduty_custom_details_string_is_kept_as_an_annotation() -> None:
    event = {
        "routing_key": "rk",
        "dedup_key": "dk",
        "event_action": "trigger",
        "payload": {
            "summary": "disk full",
            "source": "db-2",
            "severity": "error",
            "timestamp": format_time(T1),
            "custom_details": "free-form text, valid for PagerDuty",
        },
    }
    decoded = decode_payload(dumps(event), R)
    [alert] = decoded.alerts
    assert (alert.severity, alert.labels, alert.annotations) == (
        "critical",
        {"host": "db-2"},
        {"custom_details": "free-form text, valid for PagerDuty"},
    )
    assert decoded.notes == (
        "pagerduty custom_details: a JSON string, kept as the custom_details annotation",
    )


def test_pagerduty_unknown_or_missing_severity_is_a_noted_warning() -> None:
    event = {
        "routing_key": "rk",
        "dedup_key": "dk",
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "db-2", "severity": 3},
    }
    decoded = decode_payload(dumps(event), R)
    assert decoded.alerts[0].severity == "warning"
    assert decoded.notes == (
        "pagerduty payload.severity '3' is not one of critical, error, warning, info: "
        "taken as warning",
    )


def test_pagerduty_resolve_takes_its_payload_timestamp_and_identity() -> None:
    event = {
        "routing_key": "rk",
        "dedup_key": "dk",
        "event_action": "resolve",
        "payload": {"summary": "ok again", "source": "db-2", "timestamp": format_time(T2)},
    }
    [alert] = decode_payload(dumps(event), R).alerts
    assert (alert.status, alert.ends_at, alert.event_time, alert.labels) == (
        "resolved",
        T2,
        T2,
        {"host": "db-2"},
    )


def test_opsgenie_numeric_priority_and_tag_strings() -> None:
    def priority_of(priority: object) -> str:
        return decode_payload(opsgenie("Create", priority=priority), R).alerts[0].severity

    assert [priority_of(p) for p in (1, 2, 3, 4, 5, "P2", None)] == [
        "critical",
        "critical",
        "warning",
        "info",
        "info",
        "critical",
        "warning",  # Opsgenie's default P3
    ]
    [alert] = decode_payload(opsgenie("Create", tags="env:prod, team:db", entity=7), R).alerts
    assert alert.labels == {"env": "prod", "team": "db", "entity": "7"}


# Time: no bound into the past; recordings without arrival times


def test_an_old_start_is_valid_a_future_one_is_not() -> None:
    days_ago = {
        "labels": {"alertname": "Down"},
        "status": "firing",
        "startsAt": "2023-11-01T00:00:00Z",
    }
    payload = {"version": "4", "status": "firing", "alerts": [days_ago]}
    assert decode_payload(dumps(payload), R).alerts[0].event_time == parse_time(
        "2023-11-01T00:00:00Z"
    )


def test_recorded_resolve_without_ends_at_takes_the_newest_time_of_its_payload() -> None:
    payload = {
        "version": "4",
        "status": "resolved",
        "alerts": [
            {"status": "resolved", "labels": {"job": "a"}, "startsAt": format_time(T1)},
            {
                "status": "resolved",
                "labels": {"job": "b"},
                "startsAt": format_time(T1),
                "endsAt": format_time(T2),
            },
        ],
    }
    # `received_at` stands in for the replay clock: it must not be used when the payload has times.
    decoded = decode_payload(dumps(payload), R + 3_600_000, recorded=True)
    assert [(a.received_at, a.event_time) for a in decoded.alerts] == [(T2, T2), (T2, T2)]
    # Without any time in the payload, the stand-in is all there is.
    pd_resolve = {"routing_key": "rk", "dedup_key": "dk", "event_action": "resolve"}
    [alert] = decode_payload(dumps(pd_resolve), R, recorded=True).alerts
    assert alert.event_time == R


def test_recorded_canonical_alert_without_received_at_is_valid() -> None:
    record = {"status": "firing", "labels": {"component": "db"}, "starts_at": format_time(T1)}
    decoded = decode_payload(dumps(record), R + 86_400_000, recorded=True)
    assert decoded.dead_letters == ()
    assert [(a.received_at, a.event_time) for a in decoded.alerts] == [(T1, T1)]
