"""Wire records: what goes on (or comes off) a Kafka topic, as plain JSON-ready values.

Every record value carries `"schema": 1`. Topic names here are logical; the stream layer adds the
configurable prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

SCHEMA: Final = 1

TOPIC_ALERTS_RAW: Final = "alerts.raw"
TOPIC_ALERTS_DLQ: Final = "alerts.dlq"
TOPIC_ALERTS_UNMAPPED: Final = "alerts.unmapped"
TOPIC_COMPONENT_HEALTH: Final = "component.health"
TOPIC_IMPACT_INPUT: Final = "impact.input"
TOPIC_INCIDENTS: Final = "incidents"
TOPIC_INCIDENT_EVENTS: Final = "incident.events"
TOPIC_SERVICE_IMPACT: Final = "service.impact"
TOPIC_IMPACT_SUMMARY: Final = "impact.summary"
TOPIC_INCIDENT_ACTIONS: Final = "incident.actions"
TOPIC_TOPOLOGY: Final = "topology"

SUMMARY_KEY: Final = "summary"


@dataclass(frozen=True, slots=True)
class Record:
    """One keyed record for a logical topic; `value` is a JSON-ready dict (None = tombstone)."""

    topic: str
    key: str
    value: dict[str, Any] | None
