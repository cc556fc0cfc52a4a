"""The canonical alert JSON form itself (`correlator.core.alerts.alert_to_dict`): one object,
or a JSON array of them. A bad element of an array is rejected on its own."""

from __future__ import annotations

from correlator.adapters.fields import Converted, Rejected, in_range
from correlator.core.alerts import RECORDED, Alert, AlertError, alert_from_dict
from correlator.core.timefmt import Millis

FORMAT = "canonical"


def convert(data: object, received_at: Millis) -> Converted:
    """One canonical alert, or each of an array of them."""
    out = Converted()
    if type(data) is not list:
        out.alerts.append(_alert(data, received_at))
        return out
    for index, item in enumerate(data):
        try:
            out.alerts.append(_alert(item, received_at))
        except AlertError as exc:
            out.rejected.append(Rejected(f"canonical [{index}]: {exc}", item))
    return out


def _alert(item: object, received_at: Millis) -> Alert:
    try:
        alert = alert_from_dict(item, received_at, FORMAT)
    except OverflowError:
        # alert_from_dict formats an event time before year 1 for its error message, which
        # datetime cannot represent.
        raise AlertError("timestamp out of range (before 1970 or after 9999)") from None
    # The record's own received_at is what its times are checked against, so it must be sane.
    # Without one, a recording's alert carries the RECORDED stand-in until it is restamped.
    received = alert.received_at if alert.received_at != RECORDED else None
    for what, ms in (
        ("received_at", received),
        ("starts_at", alert.starts_at),
        ("ends_at", alert.ends_at),
    ):
        if ms is not None:
            in_range(ms, what)
    return alert
