"""Incident history: the sqlmodel sink of `incident.events` and the queries over it (DESIGN §2).

SQLite by default, PostgreSQL by URL. The tables keep every incident's latest snapshot and its
whole timeline after the compacted `incidents` topic has tombstoned it.
"""

from __future__ import annotations

from correlator.store.history import (
    DB_ENV,
    DEFAULT_URL,
    InvalidEventError,
    StoreError,
    default_url,
    find_incident_ids,
    get_incident,
    list_incidents,
    open_store,
    record_event,
)
from correlator.store.models import Incident, IncidentEvent
from correlator.store.sink import SinkCounts, run_sink, store_values

__all__ = [
    "DB_ENV",
    "DEFAULT_URL",
    "Incident",
    "IncidentEvent",
    "InvalidEventError",
    "SinkCounts",
    "StoreError",
    "default_url",
    "find_incident_ids",
    "get_incident",
    "list_incidents",
    "open_store",
    "record_event",
    "run_sink",
    "store_values",
]
