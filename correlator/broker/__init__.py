"""Local brokers for tests and demos: real Apache Kafka from Maven Central, or Tansu as fallback."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal, Protocol

from correlator.broker.kafka import KafkaBroker
from correlator.broker.tansu import TansuBroker
from correlator.broker.topics import TopicSpec, ensure_topics
from correlator.kafka_connection import KafkaConnection

__all__ = [
    "Broker",
    "BrokerKind",
    "KafkaBroker",
    "TansuBroker",
    "TopicSpec",
    "ensure_topics",
    "start_broker",
]

BrokerKind = Literal["kafka", "tansu", "auto"]


class Broker(Protocol):
    """A broker this process runs: started, reachable at `bootstrap`, stopped."""

    @property
    def kind(self) -> Literal["kafka", "tansu"]:
        """Which broker this is."""
        ...

    @property
    def bootstrap(self) -> str:
        """`host:port` for Kafka clients."""
        ...

    @property
    def connection(self) -> KafkaConnection:
        """How Kafka clients reach it (PLAINTEXT: local brokers are, by construction)."""
        ...

    @property
    def data_dir(self) -> Path | None:
        """Where the broker keeps its files while running."""
        ...

    @property
    def log_file(self) -> Path | None:
        """The broker's log."""
        ...

    def start(self) -> Broker:
        """Start and wait until clients can use it; raise `BrokerError` if it cannot."""
        ...

    def stop(self) -> None:
        """Stop cleanly and release what start took."""
        ...


def start_broker(
    kind: BrokerKind = "auto", data_dir: Path | None = None, *, port: int | None = None
) -> Broker:
    """Start a broker of `kind`; `auto` is Kafka when `java` is on PATH, else Tansu."""
    if kind == "auto":
        kind = "kafka" if shutil.which("java") else "tansu"
    broker: Broker
    if kind == "kafka":
        broker = KafkaBroker(data_dir, port=port)
    else:
        broker = TansuBroker(data_dir, port=port)
    return broker.start()
