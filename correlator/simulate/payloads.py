"""Builders of the real payload formats (Alertmanager, Grafana, PagerDuty v2, CloudWatch via
SNS, Opsgenie) from simulated alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from correlator.core.timefmt import Millis, format_time
from correlator.simulate.world import (
    ZERO_TIME,
    Group,
    SimAlert,
)

# -- payload builders (the real formats) -------------------------------------------------------


def am_alert(alert: SimAlert, grafana: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "status": "firing" if alert.firing else "resolved",
        "labels": dict(alert.labels),
        "annotations": {"summary": alert.summary},
        "startsAt": format_time(alert.starts_at),
        "endsAt": ZERO_TIME if alert.ends_at is None else format_time(alert.ends_at),
        "generatorURL": "http://prometheus.prod.internal:9090/graph?g0.expr="
        + alert.labels.get("alertname", "up"),
        "fingerprint": alert.fingerprint,
    }
    if grafana:
        item["generatorURL"] = f"https://grafana.prod.internal/alerting/{alert.fingerprint}/edit"
        item["silenceURL"] = (
            f"https://grafana.prod.internal/alerting/silence/new?alertmanager=grafana"
            f"&matcher=alertname%3D{alert.labels.get('alertname', '')}"
        )
        item["dashboardURL"] = ""
        item["panelURL"] = ""
        item["values"] = {"B": 42.5, "C": 1}
    return item


def group_payload(group: Group, alerts: Sequence[SimAlert]) -> dict[str, Any]:
    grafana = group.via == "grafana"
    items = [am_alert(a, grafana) for a in alerts]
    firing = sum(1 for a in alerts if a.firing)
    common = dict(alerts[0].labels)
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a.labels.get(k) == v}
    payload: dict[str, Any] = {
        "receiver": group.receiver,
        "status": "firing" if firing else "resolved",
        "alerts": items,
        "groupLabels": dict(group.group_labels),
        "commonLabels": common,
        "commonAnnotations": {"summary": alerts[0].summary} if len(alerts) == 1 else {},
        "externalURL": "http://alertmanager.prod.internal:9093",
        "version": "4",
        "groupKey": group.key,
        "truncatedAlerts": 0,
    }
    if grafana:
        payload["orgId"] = 1
        payload["version"] = "1"
        payload["externalURL"] = "https://grafana.prod.internal/"
        payload["state"] = "alerting" if firing else "ok"
        payload["title"] = f"[{'FIRING' if firing else 'RESOLVED'}:{len(alerts)}] {group.receiver}"
        payload["message"] = "\n".join(a.summary for a in alerts)
    return payload


def pd_trigger(alert: SimAlert, routing_key: str, at: Millis) -> dict[str, Any]:
    labels = alert.labels
    details = {k: v for k, v in labels.items() if k not in ("host", "component", "group", "class")}
    payload: dict[str, Any] = {
        "summary": alert.summary,
        "timestamp": format_time(at),
        "source": labels.get("host", "synthetics.prod.internal"),
        "severity": alert.severity if alert.severity != "warning" else "warning",
        "custom_details": details,
    }
    for key in ("component", "group", "class"):
        if key in labels:
            payload[key] = labels[key]
    return {
        "payload": payload,
        "routing_key": routing_key,
        "dedup_key": alert.fingerprint,
        "event_action": "trigger",
        "client": "Synthetic checks",
        "client_url": "https://synthetics.prod.internal/checks",
    }


def pd_labels(identity: Mapping[str, str], alertname: str) -> dict[str, str]:
    """The labels the PagerDuty adapter will derive from our trigger (for the check)."""
    labels = {k: v for k, v in identity.items() if k not in ("host",)}
    labels["check"] = alertname
    labels["host"] = identity.get("host", "synthetics.prod.internal")
    return labels


def cw_alarm(alert: SimAlert, state: str, at: Millis, account: str) -> dict[str, Any]:
    dims = [
        {"value": v, "name": k}
        for k, v in alert.labels.items()
        if k not in ("alarm", "namespace", "region", "account")
    ]
    name = alert.labels.get("alarm", alert.fingerprint)
    changed = format_time(at).replace("Z", "+0000")
    return {
        "AlarmName": name,
        "AlarmDescription": alert.summary,
        "AWSAccountId": account,
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 3 out of the last 3 datapoints were greater than "
        "the threshold (5.0)."
        if state == "ALARM"
        else "Threshold Crossed: 3 datapoints were not greater than the threshold (5.0).",
        "StateChangeTime": changed,
        "Region": "EU (Ireland)",
        "AlarmArn": f"arn:aws:cloudwatch:eu-west-1:{account}:alarm:{name}",
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "Trigger": {
            "MetricName": "HTTPCode_Target_5XX_Count",
            "Namespace": alert.labels.get("namespace", "AWS/ApplicationELB"),
            "StatisticType": "Statistic",
            "Statistic": "SUM",
            "Unit": None,
            "Dimensions": dims,
            "Period": 60,
            "EvaluationPeriods": 3,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 5.0,
            "TreatMissingData": "missing",
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def sns(alarm: dict[str, Any], at: Millis, message_id: str, lambda_shape: bool) -> dict[str, Any]:
    topic = f"arn:aws:sns:eu-west-1:{alarm['AWSAccountId']}:correlator-alarms"
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic,
        "Subject": f'{alarm["NewStateValue"]}: "{alarm["AlarmName"]}" in EU (Ireland)'[:100],
        "Message": orjson.dumps(alarm).decode(),
        "Timestamp": format_time(at),
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService.pem",
        "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }
    if not lambda_shape:
        return envelope
    envelope["MessageAttributes"] = {}
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:{message_id}",
                "Sns": envelope,
            }
        ]
    }


def cw_labels(identity: Mapping[str, str], alarm: str, account: str) -> dict[str, str]:
    labels = dict(identity)
    labels["alarm"] = alarm
    labels["namespace"] = "AWS/ApplicationELB"
    labels["region"] = "EU (Ireland)"
    labels["account"] = account
    return labels


def og_payload(alert: SimAlert, action: str, at: Millis, alert_id: str) -> dict[str, Any]:
    tags = [f"{k}:{v}" for k, v in alert.labels.items() if k not in ("entity", "source")]
    priority = {"critical": "P1", "warning": "P3"}.get(alert.severity, "P5")
    return {
        "source": {"name": "prometheus", "type": "API"},
        "alert": {
            "updatedAt": at * 1_000_000,
            "tags": tags,
            "teams": ["sre"],
            "recipients": ["sre-oncall"],
            "message": alert.summary,
            "username": "System",
            "alertId": alert_id,
            "source": alert.labels.get("source", "prometheus"),
            "alias": alert.fingerprint,
            "tinyId": str(int(alert_id[:4], 16) % 1000),
            "createdAt": alert.starts_at,
            "userId": alert_id,
            "entity": alert.labels.get("entity", ""),
            "priority": priority,
        },
        "action": action,
        "integrationId": "5e1f2c7a-8d3b-4f6e-9a0b-1c2d3e4f5a6b",
        "integrationName": "Prometheus",
    }


def og_labels(identity: Mapping[str, str]) -> dict[str, str]:
    labels = dict(identity)
    labels["source"] = "prometheus"
    return labels
