"""The Faust tables: state that must survive restarts, written only when it changes.

Both are keyed like the hop they are updated from, so each table partition lives with the input
partition that writes it (Faust writes a table change to the changelog partition of the event
being processed; the hops carry batches whose alerts all belong to that partition).
"""

from __future__ import annotations

from typing import Any

from correlator.stream.config import WorkerConfig
from correlator.stream.topics import ALERT_STATE_TABLE, COMPONENT_ALERTS_TABLE


def alert_state_table(app: Any, config: WorkerConfig) -> Any:
    """fingerprint → the alert's tracked state (component, active, last change, deadline)."""
    return app.Table(
        ALERT_STATE_TABLE,
        default=None,
        partitions=config.partitions,
        key_type=bytes,  # bytes → Faust's "raw" codec: we encode with orjson ourselves
        value_type=bytes,
        help="Per-fingerprint alert state, written on changes only (never on repeats).",
    )


def component_alerts_table(app: Any, config: WorkerConfig) -> Any:
    """`component \\x1f fingerprint` → an active alert of that component (deleted on resolve)."""
    return app.Table(
        COMPONENT_ALERTS_TABLE,
        default=None,
        partitions=config.partitions,
        key_type=bytes,  # bytes → Faust's "raw" codec: we encode with orjson ourselves
        value_type=bytes,
        help="Active alerts per component, for rebuilding component health.",
    )
