"""CloudWatch alarms delivered by SNS.

Three shapes arrive: the Lambda event (`Records[].Sns`, one SNS envelope per record), the SNS
envelope an HTTPS subscription receives as its body (`{"Type": "Notification", "Message": …}`),
and, from a producer that unwrapped it already, the alarm itself. The alarm is a JSON string
inside `Message`. A `SubscriptionConfirmation` is reported as a note: confirming it is an
operator's decision, and the core does no I/O.

Labels: each dimension, `alarm`, `namespace`, `region` (the code in the `AlarmArn`, e.g.
`ap-northeast-2`), `region_name` (the alarm's display name, "Asia Pacific (Seoul)") and
`account`. Optional fields of an unexpected type are dropped with a note.
"""

from __future__ import annotations

import orjson

from correlator.adapters.fields import (
    Converted,
    Rejected,
    json_type,
    obj,
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
    notes = out.notes
    trigger = alarm.get("Trigger")
    if type(trigger) is not dict:
        if trigger is not None:
            notes.append(f"cloudwatch Trigger: a JSON {json_type(trigger)}, not an object: ignored")
        trigger = {}
    labels = _dimensions(trigger, notes)
    labels["alarm"] = name
    arn = _text(alarm.get("AlarmArn"), "AlarmArn", notes)
    # arn:aws:cloudwatch:<region code>:<account>:alarm:<name>. The code is what AWS tooling,
    # resource tags and selectors use; the alarm's `Region` is a display name.
    parts = arn.split(":", 5) if arn.startswith("arn:") else []
    region_code = parts[3] if len(parts) == 6 else ""
    account = parts[4] if len(parts) == 6 else ""
    for label, key, value in (
        ("namespace", "Namespace", trigger.get("Namespace")),
        ("region", "AlarmArn region", region_code),
        ("region_name", "Region", alarm.get("Region")),
        ("account", "AWSAccountId", alarm.get("AWSAccountId") or account),
    ):
        scalar = _text(value, key, notes)
        if scalar:
            labels[label] = scalar
    changed = rfc3339(alarm.get("StateChangeTime"), "StateChangeTime")
    description = _text(alarm.get("AlarmDescription"), "AlarmDescription", notes)
    reason = _text(alarm.get("NewStateReason"), "NewStateReason", notes)
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


def _text(value: object, what: str, notes: list[str]) -> str:
    """An optional text field: scalars as text; anything else dropped with a note."""
    if value is None:
        return ""
    scalar = scalar_text(value)
    if scalar is None:
        notes.append(f"cloudwatch {what}: a JSON {json_type(value)}, not text: dropped")
        return ""
    return scalar


def _dimensions(trigger: dict[str, object], notes: list[str]) -> dict[str, str]:
    """Each dimension name → value; metric-math alarms keep them under `Metrics[].MetricStat`.
    A dimension without a usable name or value is dropped with a note."""
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
        if type(dims) is dict:  # {name: value}, as some producers write it
            dims = [{"name": k, "value": v} for k, v in dims.items()]
        if type(dims) is not list:
            notes.append(f"cloudwatch Trigger Dimensions: a JSON {json_type(dims)}: dropped")
            continue
        for dim in dims:
            if type(dim) is not dict:
                notes.append(f"cloudwatch dimension: a JSON {json_type(dim)}: dropped")
                continue
            key = dim.get("name", dim.get("Name"))
            value = scalar_text(dim.get("value", dim.get("Value")))
            if type(key) is not str or not key or value is None:
                notes.append(f"cloudwatch dimension {str(key)[:60]!r} without a value: dropped")
                continue
            labels.setdefault(key, value)
    return labels
