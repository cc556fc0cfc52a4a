"""Grafana unified alerting webhook: Alertmanager's v4 shape plus `orgId`, `title`, `state`,
`message`, and per alert `values`, `silenceURL`, `dashboardURL`, `panelURL`.

Identity is the same as Alertmanager's (labels as they are, `fingerprint` else a hash of the
labels), so the group is read by the Alertmanager adapter under the source name "grafana".
"""

from __future__ import annotations

from correlator.adapters.alertmanager import convert_group
from correlator.adapters.fields import Converted
from correlator.core.timefmt import Millis

FORMAT = "grafana"


def convert(data: object, received_at: Millis) -> Converted:
    """Every alert of a Grafana webhook payload; a bad alert is rejected on its own."""
    return convert_group(data, received_at, FORMAT)
