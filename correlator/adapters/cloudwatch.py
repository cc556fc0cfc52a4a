"""CloudWatch alarms delivered by SNS.

Three shapes arrive: the Lambda event (`Records[].Sns`, one SNS envelope per record), the SNS
envelope an HTTPS subscription receives as its body (`{"Type": "Notification", "Message": …}`),
and, from a producer that unwrapped it already, the alarm itself. The alarm is a JSON string
inside `Message`. A `SubscriptionConfirmation` is reported as a note: confirming it is an
operator's decision, and the core does no I/O.
"""

from __future__ import annotations

import orjson

from correlator.adapters.fields import (
    Converted,
    Rejected,
    json_type,
    obj,
    opt_obj,
    opt_text,
    rfc3339,
    scalar_text,
    text,
)
from correlator.core.alerts import Alert, AlertError, labels_fingerprint
from correlator.core.timefmt import Millis

FORMAT = "cloudwatch"
SNS_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")


def convert(data: object, received_at: Millis) -> Converted:
    """The alarm(s) of a Lambda SNS event, an SNS envelope, or a bare alarm."""
    payload = obj(data, "cloudwatch payload")
    out = Converted()
    records = payload.get("Records")
    if records is not None:
        if type(records) is not list:
            raise AlertError(f"cloudwatch Records must be an array, got {json_type(records)}")
        for index, record in enumerate(records):
            try:
                envelope = obj(obj(record, "record").get("Sns"), "Sns")
                _envelope(envelope, received_at, out)
            except AlertError as exc:
                out.rejected.append(Rejected(f"cloudwatch Records[{index}]: {exc}", record))
        return out
    if "Type" in payload:
        _envelope(payload, received_at, out)
        return out
    _alarm(payload, received_at, out)
    return out


def _envelope(envelope: dict[str, object], received_at: Millis, out: Converted) -> None:
    kind = envelope.get("Type")
    topic = opt_text(envelope.get("TopicArn"), "SNS TopicArn") or "an unnamed topic"
    if kind == "SubscriptionConfirmation":
        url = opt_text(envelope.get("SubscribeURL"), "SNS SubscribeURL")
        out.notes.append(
            f"SNS subscription confirmation for {topic}: not an alert; confirm it by visiting "
            f"its SubscribeURL {url}".rstrip()
        )
        return
    if kind == "UnsubscribeConfirmation":
        out.notes.append(f"SNS unsubscribe confirmation for {topic}: not an alert")
        return
    if kind is not None and kind != "Notification":
        raise AlertError(f"SNS Type must be one of {', '.join(SNS_TYPES)}, got {kind!r}"[:160])
    message = text(envelope.get("Message"), "SNS Message")
    try:
        alarm = orjson.loads(message)
    except orjson.JSONDecodeError as exc:
        raise AlertError(f"SNS Message is not JSON ({exc})") from None
    _alarm(obj(alarm, "SNS Message"), received_at, out)


def _alarm(alarm: dict[str, object], received_at: Millis, out: Converted) -> None:
    name = alarm.get("AlarmName")
    state = alarm.get("NewStateValue")
    if name is None or state is None:
        raise AlertError("not a CloudWatch alarm: AlarmName and NewStateValue are required")
    name = text(name, "AlarmName")
    if state == "INSUFFICIENT_DATA":
        out.notes.append(f"cloudwatch alarm {name!r} is INSUFFICIENT_DATA: no change of health")
        return
    if state != "ALARM" and state != "OK":
        raise AlertError(
            f"NewStateValue must be ALARM, OK or INSUFFICIENT_DATA, got {state!r}"[:160]
        )
    trigger = opt_obj(alarm.get("Trigger"), "Trigger")
    labels = _dimensions(trigger)
    labels["alarm"] = name
    for label, key, value in (
        ("namespace", "Namespace", trigger.get("Namespace")),
        ("region", "Region", alarm.get("Region")),
        ("account", "AWSAccountId", alarm.get("AWSAccountId")),
    ):
        scalar = scalar_text(value)
        if scalar:
            labels[label] = scalar
        elif value is not None and scalar is None:
            raise AlertError(f"{key} must be a string, got {json_type(value)}")
    arn = opt_text(alarm.get("AlarmArn"), "AlarmArn")
    changed = rfc3339(alarm.get("StateChangeTime"), "StateChangeTime")
    description = opt_text(alarm.get("AlarmDescription"), "AlarmDescription")
    reason = opt_text(alarm.get("NewStateReason"), "NewStateReason")
    annotations = {k: v for k, v in (("description", description), ("reason", reason)) if v}
    firing = state == "ALARM"
    alert = Alert(
        fingerprint=arn or labels_fingerprint(labels),
        status="firing" if firing else "resolved",
        severity="critical",
        labels=labels,
        received_at=received_at,
        annotations=annotations,
        summary=description or name,
        starts_at=changed if firing else None,
        ends_at=None if firing else changed,
        source=FORMAT,
    )
    alert.check_time()
    out.alerts.append(alert)


def _dimensions(trigger: dict[str, object]) -> dict[str, str]:
    """Each dimension name → value; metric-math alarms keep them under `Metrics[].MetricStat`."""
    groups: list[object] = []
    if "Dimensions" in trigger:
        groups.append(trigger["Dimensions"])
    metrics = trigger.get("Metrics")
    if type(metrics) is list:
        for metric in metrics:
            if type(metric) is dict and type(metric.get("MetricStat")) is dict:
                inner = metric["MetricStat"].get("Metric")
                if type(inner) is dict and "Dimensions" in inner:
                    groups.append(inner["Dimensions"])
    labels: dict[str, str] = {}
    for dims in groups:
        if dims is None:
            continue
        if type(dims) is not list:
            raise AlertError(f"Trigger Dimensions must be an array, got {json_type(dims)}")
        for dim in dims:
            if type(dim) is not dict:
                raise AlertError(f"each dimension must be an object, got {json_type(dim)}")
            key = dim.get("name", dim.get("Name"))
            value = dim.get("value", dim.get("Value"))
            if type(key) is not str or not key:
                raise AlertError("each dimension needs a string name")
            scalar = scalar_text(value)
            if scalar is None:
                raise AlertError(f"dimension {key!r} needs a scalar value"[:160])
            labels.setdefault(key, scalar)
    return labels
