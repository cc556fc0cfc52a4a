"""Every topic the worker uses: name (with the prefix), partitions, compaction.

They are created explicitly with `correlator.broker.ensure_topics` before the app starts, so the
partition counts and cleanup policies are ours, never the broker's auto-create defaults.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from correlator import records
from correlator.broker import TopicSpec
from correlator.kafka_connection import MAX_RECORD_BYTES
from correlator.stream.config import WorkerConfig
from correlator.stream.kafka_io import TOPOLOGY_MAX_BYTES

ALERTS_KEYED = "alerts.keyed"
"""Internal hop: canonical alerts in batches, partitioned by fingerprint (ingest → alert state)."""
ALERT_TRANSITIONS = "alert.transitions"
"""Internal hop: alert transitions in batches, partitioned by component (alert state → health)."""
ALERT_STATE_TABLE = "alert_state"
COMPONENT_ALERTS_TABLE = "component_alerts"


@dataclass(frozen=True, slots=True)
class Topics:
    """The prefixed names of one worker's topics."""

    prefix: str
    app_id: str

    def name(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    @property
    def raw(self) -> str:
        return self.name(records.TOPIC_ALERTS_RAW)

    @property
    def dlq(self) -> str:
        return self.name(records.TOPIC_ALERTS_DLQ)

    @property
    def unmapped(self) -> str:
        return self.name(records.TOPIC_ALERTS_UNMAPPED)

    @property
    def keyed(self) -> str:
        return self.name(ALERTS_KEYED)

    @property
    def transitions(self) -> str:
        return self.name(ALERT_TRANSITIONS)

    @property
    def health(self) -> str:
        return self.name(records.TOPIC_COMPONENT_HEALTH)

    @property
    def impact_input(self) -> str:
        return self.name(records.TOPIC_IMPACT_INPUT)

    @property
    def incidents(self) -> str:
        return self.name(records.TOPIC_INCIDENTS)

    @property
    def events(self) -> str:
        return self.name(records.TOPIC_INCIDENT_EVENTS)

    @property
    def service_impact(self) -> str:
        return self.name(records.TOPIC_SERVICE_IMPACT)

    @property
    def summary(self) -> str:
        return self.name(records.TOPIC_IMPACT_SUMMARY)

    @property
    def actions(self) -> str:
        return self.name(records.TOPIC_INCIDENT_ACTIONS)

    @property
    def topology(self) -> str:
        return self.name(records.TOPIC_TOPOLOGY)

    def changelog(self, table: str) -> str:
        """Faust's name for a table's changelog topic."""
        return f"{self.app_id}-{table}-changelog"


def topics_for(config: WorkerConfig) -> Topics:
    return Topics(config.topic_prefix, config.app_id)


def raw_max_message_bytes(config: WorkerConfig) -> int:
    """`max.message.bytes` of `alerts.raw` (and the ingress producer's request limit): twice the
    largest accepted payload, room for the envelope and batch overhead."""
    return max(2 * config.max_payload_bytes, config.max_payload_bytes + 65536)


def topic_specs(config: WorkerConfig) -> list[TopicSpec]:
    """Every topic with its partition count and compaction (DESIGN §2)."""
    t = topics_for(config)
    n = config.partitions
    rf = config.replication_factor

    # Every other topic takes correlator's largest record: a storm's incident snapshot lists
    # every component, and passes Kafka's 1 MB default at about 3,500 of them.
    big = {"max.message.bytes": str(MAX_RECORD_BYTES)}

    def spec(name: str, partitions: int = 1, compacted: bool = False) -> TopicSpec:
        return TopicSpec(name, partitions, compacted, config=big, replication_factor=rf)

    # A payload at the ingress limit plus its envelope must always fit, even uncompressed.
    limit = {"max.message.bytes": str(raw_max_message_bytes(config))}
    raw = TopicSpec(t.raw, n, config=limit, replication_factor=rf)
    return [
        raw,
        spec(t.dlq),
        spec(t.unmapped),
        spec(t.keyed, n),
        spec(t.transitions, n),
        spec(t.health, n, compacted=True),
        spec(t.impact_input, 1),
        spec(t.incidents, 1, compacted=True),
        spec(t.events, 1),
        spec(t.service_impact, 1, compacted=True),
        spec(t.summary, 1, compacted=True),
        spec(t.actions, 1),
        TopicSpec(
            t.topology,
            1,
            True,
            config={"max.message.bytes": str(TOPOLOGY_MAX_BYTES)},
            replication_factor=rf,
        ),
        spec(t.changelog(ALERT_STATE_TABLE), n, compacted=True),
        spec(t.changelog(COMPONENT_ALERTS_TABLE), n, compacted=True),
    ]


def partition_for(key: str, partitions: int) -> int:
    """The hop partition of a fingerprint or component id (stable across processes)."""
    return zlib.crc32(key.encode()) % partitions
