"""Grafana unified alerting webhook: Alertmanager's v4 shape plus `orgId`, `title`, `state`,
`message`, and per alert `values`, `silenceURL`, `dashboardURL`, `panelURL`.

Identity is the same as Alertmanager's (labels as they are, `fingerprint` else a hash of the
labels), so the group is read by the Alertmanager adapter under the source name "grafana".
Grafana sets no `severity` label unless the rule's author adds one: such alerts are warnings
(DESIGN §4). A legacy dashboard-alert payload gets a reason of its own.
"""

from __future__ import annotations

from correlator.adapters.alertmanager import convert_group
from correlator.adapters.fields import Converted
from correlator.core.alerts import AlertError
from correlator.core.timefmt import Millis

FORMAT = "grafana"
LEGACY_KEYS = ("evalMatches", "ruleName", "ruleId")
"""Keys of the legacy (dashboard) alerting webhook, removed in Grafana 11."""
LEGACY_REASON = (
    "grafana: a legacy Grafana alerting payload (evalMatches, ruleName: dashboard alerts, "
    "removed in Grafana 11) is not supported; send from a Grafana Alerting contact point of "
    "type webhook, whose payload carries 'alerts'"
)


def is_legacy(data: dict[str, object]) -> bool:
    return "alerts" not in data and any(key in data for key in LEGACY_KEYS)


def convert(data: object, received_at: Millis) -> Converted:
    """Every alert of a Grafana webhook payload; a bad alert is rejected on its own."""
    if type(data) is dict and is_legacy(data):
        raise AlertError(LEGACY_REASON)
    return convert_group(data, received_at, FORMAT)
