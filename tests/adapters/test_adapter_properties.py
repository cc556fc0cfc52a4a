"""Properties: nothing a producer sends makes `decode_payload` raise, and whatever comes out is
well-formed (alerts inside the time window, excerpts within 4 KiB, reasons that are not
internal errors)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from correlator.adapters import FORMATS, Decoded, decode_payload
from correlator.adapters.fields import parse_rfc3339
from correlator.core.timefmt import TimeFormatError, format_time, parse_time

R = 1_700_000_000_000

SETTINGS = settings(max_examples=150, deadline=None)

_times = st.integers(R - 30 * 3_600_000, R + 600_000).map(format_time)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    _times,
    st.sampled_from(["firing", "resolved", "ALARM", "OK", "trigger", "resolve", "Create", "Close"]),
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def fields(**strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of the named keys, each holding a likely or an arbitrary value."""
    return st.fixed_dictionaries(
        {}, optional={k: st.one_of(s, json_values) for k, s in strategies.items()}
    )


_labels = st.dictionaries(
    st.sampled_from(["job", "pod", "severity", "alertname"]), st.text(max_size=6), max_size=3
)
_am_alert = fields(
    status=st.sampled_from(["firing", "resolved"]),
    labels=_labels,
    annotations=_labels,
    startsAt=_times,
    endsAt=st.one_of(_times, st.just("0001-01-01T00:00:00Z")),
    fingerprint=st.text(max_size=8),
)
_alertmanager = fields(
    alerts=st.lists(_am_alert, max_size=4),
    version=st.sampled_from(["4", "1"]),
    orgId=st.just(1),
    truncatedAlerts=st.integers(-2, 5),
)
_pagerduty = fields(
    event_action=st.sampled_from(["trigger", "acknowledge", "resolve"]),
    routing_key=st.text(max_size=4),
    dedup_key=st.text(max_size=4),
    payload=fields(
        summary=st.text(max_size=4),
        source=st.text(max_size=4),
        severity=st.sampled_from(["critical", "error", "warning", "info"]),
        timestamp=_times,
        component=st.text(max_size=4),
        custom_details=st.dictionaries(st.text(max_size=4), _scalars, max_size=3),
    ),
)
_alarm = fields(
    AlarmName=st.text(max_size=4),
    NewStateValue=st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA"]),
    StateChangeTime=_times,
    AlarmArn=st.text(max_size=4),
    Region=st.text(max_size=4),
    Trigger=fields(
        Namespace=st.text(max_size=4),
        Dimensions=st.lists(fields(name=st.text(max_size=4), value=_scalars), max_size=3),
    ),
)
_sns = fields(
    Type=st.sampled_from(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]),
    Message=st.one_of(_alarm.map(lambda a: orjson.dumps(a).decode()), st.text(max_size=10)),
    TopicArn=st.text(max_size=4),
)
_cloudwatch = st.one_of(_sns, fields(Records=st.lists(fields(Sns=_sns), max_size=3)), _alarm)
_opsgenie = fields(
    action=st.sampled_from(["Create", "Close", "Acknowledge"]),
    alert=fields(
        alias=st.text(max_size=4),
        entity=st.text(max_size=4),
        tags=st.lists(st.text(max_size=6), max_size=3),
        createdAt=st.integers(R - 30 * 3_600_000, R),
        updatedAt=st.integers(R - 30 * 3_600_000, R).map(lambda ms: ms * 1_000_000),
        priority=st.sampled_from(["P1", "P3", "P5"]),
    ),
)
_canonical_one = fields(
    status=st.sampled_from(["firing", "resolved"]),
    labels=_labels,
    fingerprint=st.text(max_size=4),
    starts_at=_times,
    ends_at=_times,
    received_at=_times,
    severity=st.text(max_size=4),
)
_canonical = st.one_of(_canonical_one, st.lists(_canonical_one, max_size=3))
shaped = st.one_of(_alertmanager, _pagerduty, _cloudwatch, _opsgenie, _canonical)


def check(decoded: Decoded) -> None:
    assert decoded.format is None or decoded.format in FORMATS
    for alert in decoded.alerts:
        alert.check_time()
        assert alert.status in ("firing", "resolved")
        assert alert.severity in ("critical", "warning", "info")
        assert alert.fingerprint
        assert all(type(k) is str and type(v) is str for k, v in alert.labels.items())
    for letter in decoded.dead_letters:
        assert not letter.reason.startswith("internal error"), letter.reason
        assert len(letter.excerpt) <= 4096
        if letter.excerpt_encoding == "base64":
            base64.b64decode(letter.excerpt, validate=True)
        else:
            assert len(letter.excerpt.encode("utf-8")) <= 4096


@SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    check(decode_payload(raw, R))


@SETTINGS
@given(json_values, st.sampled_from([None, *FORMATS]))
def test_arbitrary_json_never_raises(value: object, fmt: str | None) -> None:
    check(decode_payload(orjson.dumps(value), R, fmt=fmt))


@SETTINGS
@given(shaped, st.sampled_from([None, None, *FORMATS]))
def test_nearly_valid_payloads_never_raise(value: object, fmt: str | None) -> None:
    check(decode_payload(orjson.dumps(value), R, fmt=fmt))


@SETTINGS
@given(_alertmanager)
def test_each_alert_of_a_group_is_an_alert_or_a_dead_letter(value: dict[str, Any]) -> None:
    decoded = decode_payload(orjson.dumps(value), R)
    alerts = value.get("alerts")
    if isinstance(alerts, list):
        assert len(decoded.alerts) + len(decoded.dead_letters) == len(alerts)


_digits = st.text("0123456789", min_size=1, max_size=4)
_timestamps = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.builds(
        lambda date, t, frac, zone: f"{date}T{t}{frac}{zone}",
        st.dates().map(str),
        st.times().map(lambda t: t.strftime("%H:%M:%S")),
        st.one_of(st.just(""), _digits.map(lambda d: "." + d)),
        st.sampled_from(["Z", "z", "+0000", "-05:30", "+14:00", "+99:99", "", " ", "+1", "Zz"]),
    ),
    st.text(alphabet="0123456789-T:.Z+ ", min_size=18, max_size=30),
)


@settings(max_examples=400, deadline=None)
@given(_timestamps)
def test_fast_timestamp_parser_agrees_with_parse_time(text: str) -> None:
    fast = parse_rfc3339(text)
    if fast is None:
        return
    try:
        slow = parse_time(text)
    except TimeFormatError:
        slow = None
    assert fast == slow
