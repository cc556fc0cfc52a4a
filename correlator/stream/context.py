"""What the stages of one app share: configuration, topic names, the current topology."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from correlator.core.alert_state import Resolver
from correlator.core.engine import matcher_resolver
from correlator.core.topology import Topology
from correlator.stream.config import WorkerConfig
from correlator.stream.kafka_io import gather_sends
from correlator.stream.metrics import WorkerMetrics
from correlator.stream.topics import Topics

log = logging.getLogger("correlator.stream")


@dataclass(slots=True)
class CurrentTopology:
    """The topology version in use by this worker, its text, and its label resolver."""

    topology: Topology
    text: str
    resolver: Resolver = field(init=False)

    def __post_init__(self) -> None:
        self.resolver = matcher_resolver(self.topology)

    def swap(self, topology: Topology, text: str) -> None:
        self.topology, self.text = topology, text
        self.resolver = matcher_resolver(topology)


@dataclass(slots=True)
class StageContext:
    config: WorkerConfig
    topics: Topics
    topology: CurrentTopology
    app: Any = None
    counters: dict[str, int] = field(default_factory=dict)
    """Records sent per topic (`sent:<topic>`) and consumed per stage, for tests and benchmarks."""
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    """This app's Prometheus metrics (`GET /metrics`), on its own registry."""

    waiting: list[Any] = field(default_factory=list)
    """Each stage's `OrderedInputs`: inputs waiting for their turn in event-time order."""

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def settled(self) -> bool:
        """True when every record one stage sent to the next was processed (one worker)."""
        c = self.counters.get
        t = self.topics
        # `>=`: a stage may also consume what an earlier run sent and never got to commit.
        return (
            c("alert_state.alerts", 0) >= c("ingest.alerts", 0)
            and c("alert_state.events", 0) >= c(f"sent:{t.keyed}", 0)
            and c("health.events", 0) >= c(f"sent:{t.transitions}", 0)
            and c("impact.inputs", 0) >= c(f"sent:{t.impact_input}", 0)
            and not any(w.pending(p) for w in self.waiting for p in list(w.parts))
        )

    async def send(self, outputs: list[tuple[str, bytes | None, bytes | None, int | None]]) -> None:
        """Send (topic, key, value, partition) records with the app's producer and wait for
        every acknowledgement: callers send before they let their input offsets be committed."""
        producer = self.app.producer
        for topic, _, _, _ in outputs:
            self.count(f"sent:{topic}")
        futures = [
            await producer.send(topic, key, value, partition, None, None)
            for topic, key, value, partition in outputs
        ]
        await gather_sends(futures)
