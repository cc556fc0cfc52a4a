"""What the stages of one app share: configuration, topic names, the current topology."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
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

    in_flight: set[asyncio.Future[None]] = field(default_factory=set)
    """Sends of `send_then` not acknowledged yet."""
    failed: BaseException | None = None
    """A `send_then` that failed, raised by the next send."""

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
        await gather_sends(await self._enqueue(outputs))

    async def send_then(
        self,
        outputs: list[tuple[str, bytes | None, bytes | None, int | None]],
        then: Callable[[], None],
    ) -> None:
        """Send records like `send` but without waiting: `then()` runs once every one is
        acknowledged. For outputs no table write waits for (progress marks, and anything of an
        input that changed no state): the caller keeps its input unacknowledged until `then`,
        so its offset is not committed before its outputs are in the log. Records to one
        partition keep their order either way (one producer). A failed send is raised by the
        next `send` or `send_then` of this app, as `send` raises its own."""
        futures = await self._enqueue(outputs)
        if not futures:
            then()
            return
        task = asyncio.ensure_future(self._settle(futures, then))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _settle(self, futures: list[Any], then: Callable[[], None]) -> None:
        try:
            await gather_sends(futures)
        except Exception as exc:  # the input stays unacknowledged: it is read again
            log.warning("outputs not acknowledged: %r", exc)
            self.failed = exc
            return
        then()

    async def _enqueue(
        self, outputs: list[tuple[str, bytes | None, bytes | None, int | None]]
    ) -> list[Any]:
        if self.failed is not None:
            failed, self.failed = self.failed, None
            raise failed
        producer = self.app.producer
        for topic, _, _, _ in outputs:
            self.count(f"sent:{topic}")
        return [
            await producer.send(topic, key, value, partition, None, None)
            for topic, key, value, partition in outputs
        ]
