"""The worker's configuration: one dataclass, filled from flags and `CORRELATOR_*` variables."""

from __future__ import annotations

from dataclasses import dataclass, field

from correlator.core.engine import EngineSettings
from correlator.kafka_connection import KafkaConnection
from correlator.notify.settings import NotifySettings


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Everything one worker needs. Times are seconds unless named `_ms`."""

    kafka: KafkaConnection = field(default_factory=KafkaConnection)
    """The cluster and how to reach it (bootstrap servers, security)."""
    topic_prefix: str = ""
    topology_path: str | None = None
    db_url: str | None = None
    """For the history sink; the stream stages themselves do not use it."""
    partitions: int = 4
    """Partitions of `alerts.raw` and the internal hops (ingest, alert state, health scale-out)."""
    replication_factor: int = 1
    tick_interval: float = 5.0
    """Idle clock ticks: this often, a stage with no input advances its clock by wall time."""
    engine: EngineSettings = field(default_factory=EngineSettings)
    web_enabled: bool = False
    """Serve the web server: the webhook ingress, `/health` and Faust's own pages."""
    web_port: int = 6066
    ingest_token: str | None = None
    """When set, `POST /ingest` requires `Authorization: Bearer <token>`."""
    store: str = "memory://"
    ingest_batch: int = 2000
    """At most this many raw records per `getmany` of the ingest stage."""
    impact_batch: int = 500
    """At most this many `impact.input` records per impact step."""
    max_payload_bytes: int = 1_048_576
    """Largest payload accepted: the ingress answers 413 above it, ingest dead-letters it."""
    ingress_max_requests: int = 256
    """Requests the ingress holds at once (reading or waiting for Kafka); 503 beyond."""
    ingress_max_bytes: int = 64 * 1_048_576
    """Bytes of bodies the ingress holds at once; 503 beyond (one body always fits)."""
    fetch_wait_ms: int = 20
    """Longest wait of a fetch request on the broker, for the ingest and Faust consumers. aiokafka
    keeps one fetch in flight per broker, and a partition left out of it (its previous records
    were still buffered) waits for it to return: this bounds that stall on every hop."""
    session_timeout: float = 10.0
    """A worker that stops heartbeating (killed, frozen) loses its partitions after this long:
    the bound on how long its partitions wait before another worker takes them over."""
    instance_id: str | None = None
    """Static group membership (Kafka `group.instance.id`): a worker restarted with the same id
    gets its partitions back at once, without waiting for the session timeout or a rebalance.
    Unique per worker, stable across its restarts."""
    fast_timeouts: bool = False
    """Short session and commit timeouts (tests, local demo)."""
    notify: NotifySettings | None = None
    """Post incident events to webhooks (`correlator.notify`), from the notifier's own consumer."""

    @property
    def app_id(self) -> str:
        """The Faust app id: also the consumer group and the table changelog prefix."""
        return f"{self.topic_prefix}correlator"
