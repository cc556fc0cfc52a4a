"""Planned-work windows on `incident.actions`: publishing one, and reading them all back.

The CLI (`correlator maintenance add|list|end`) publishes and lists; the impact stage reads the
windows back when it rebuilds its state, because `impact.input` is not replayed on a restart.
"""

from __future__ import annotations

import logging

import orjson

from correlator.core.maintenance import MaintenanceWindow
from correlator.core.timefmt import Millis
from correlator.stream.config import WorkerConfig
from correlator.stream.kafka_io import new_producer, read_to_end
from correlator.stream.topics import topics_for
from correlator.wire import MaintenanceRecordError, maintenance_from_dict, maintenance_to_dict

log = logging.getLogger("correlator.stream")


async def publish_window(config: WorkerConfig, window: MaintenanceWindow, at: Millis) -> None:
    """Produce a window (key: its id) and wait for the broker's acknowledgement."""
    producer = new_producer(config, acks="all")
    try:
        await producer.start()
        await producer.send_and_wait(
            topics_for(config).actions,
            orjson.dumps(maintenance_to_dict(window, at)),
            key=window.id.encode(),
        )
    finally:
        await producer.stop()


async def read_windows(config: WorkerConfig) -> list[MaintenanceWindow]:
    """Every window on `incident.actions`, the latest record of each id, in first-seen order."""
    windows: dict[str, MaintenanceWindow] = {}
    for _, value in await read_to_end(config, topics_for(config).actions):
        window = window_of(value)
        if window is not None:
            windows[window.id] = window
    return list(windows.values())


def window_of(value: bytes | None) -> MaintenanceWindow | None:
    """The window in an `incident.actions` value, or None (another action, or malformed:
    logged)."""
    if value is None or b'"maintenance"' not in value:
        return None
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("type") != "maintenance":
        return None
    try:
        return maintenance_from_dict(doc)
    except MaintenanceRecordError as exc:
        log.warning("ignoring a malformed maintenance record: %s", exc)
        return None
