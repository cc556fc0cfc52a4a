"""The canonical alert JSON form itself (`correlator.core.alerts.alert_to_dict`): one object,
or a JSON array of them. A bad element of an array is rejected on its own."""

from __future__ import annotations

from correlator.adapters.fields import Converted, Rejected
from correlator.core.alerts import AlertError, alert_from_dict
from correlator.core.timefmt import Millis

FORMAT = "canonical"


def convert(data: object, received_at: Millis) -> Converted:
    """One canonical alert, or each of an array of them."""
    out = Converted()
    if type(data) is not list:
        out.alerts.append(alert_from_dict(data, received_at, FORMAT))
        return out
    for index, item in enumerate(data):
        try:
            out.alerts.append(alert_from_dict(item, received_at, FORMAT))
        except AlertError as exc:
            out.rejected.append(Rejected(f"canonical [{index}]: {exc}", item))
        except (ValueError, OverflowError) as exc:
            # alert_from_dict lets a timestamp beyond datetime's range escape as OverflowError.
            out.rejected.append(Rejected(f"canonical [{index}]: bad timestamp ({exc})", item))
    return out
