"""Topology versions: the compacted `topology` topic, read by every worker with its own consumer
from the beginning (not a GlobalTable: faust-streaming issue 283), hot-reloaded.

A new valid version swaps the label matcher of this worker's alert-state stage and is forwarded
into `impact.input`, so impact re-evaluates and stamps it on incidents. An invalid one is logged
with its one-line error and the version in use stays.
"""

from __future__ import annotations

from typing import Any

from mode import Service

from correlator.core.topology import Topology
from correlator.errors import CorrelatorError
from correlator.stream.config import WorkerConfig
from correlator.stream.context import StageContext, log
from correlator.stream.kafka_io import (
    TOPOLOGY_MAX_BYTES,
    new_producer,
    read_to_end,
)
from correlator.stream.topics import topics_for
from correlator.topology_files import parse_topology_text
from correlator.wire import impact_topology, loads, topology_value


def parse_record(value: bytes) -> tuple[Topology, str]:
    """A `topology` record → the validated topology and its text; raises `CorrelatorError`."""
    try:
        d = loads(value)
    except Exception:
        raise CorrelatorError("topology record is not JSON") from None
    if not isinstance(d, dict) or not isinstance(d.get("text"), str):
        raise CorrelatorError("topology record has no `text`")
    source = f"topology {d.get('name', '?')} from {d.get('source', 'the topology topic')}"
    return parse_topology_text(d["text"], source), d["text"]


async def publish_topology(
    config: WorkerConfig, topology: Topology, text: str, source: str
) -> None:
    """Produce a validated topology to the `topology` topic (key: its name)."""
    producer = new_producer(
        config, acks="all", compression_type="gzip", max_request_size=TOPOLOGY_MAX_BYTES
    )
    try:
        await producer.start()
        await producer.send_and_wait(
            topics_for(config).topology,
            topology_value(topology, text, source),
            key=topology.name.encode(),
        )
    finally:
        await producer.stop()


async def latest_published(config: WorkerConfig) -> tuple[Topology, str] | None:
    """The newest valid version on the topic (newest record of any key), if any."""
    records = await read_to_end(config, topics_for(config).topology)
    for _, value in reversed(records):
        if value is None:
            continue
        try:
            return parse_record(value)
        except CorrelatorError as exc:
            log.error("topology: ignoring an invalid published version: %s", exc)
    return None


class TopologyWatcher(Service):
    """Tails the `topology` topic and applies each new valid version."""

    def __init__(self, ctx: StageContext, **kwargs: Any) -> None:
        self.ctx = ctx
        self._consumer: Any = None
        self._ends: dict[Any, int] = {}
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        from aiokafka import TopicPartition

        topic = self.ctx.topics.topology
        self._consumer = self.ctx.config.kafka.consumer(
            enable_auto_commit=False,
            max_partition_fetch_bytes=TOPOLOGY_MAX_BYTES,
        )
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(topic) or {0}
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._ends = await self._consumer.end_offsets(tps)

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    @Service.task
    async def _tail(self) -> None:
        # Catch up to the end first and apply only the newest version seen (not every old
        # one in turn), then apply each new version as it arrives.
        newest: bytes | None = None
        pending = {tp for tp, end in self._ends.items() if end > 0}
        while pending and not self.should_stop:
            batches = await self._consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                for m in messages:
                    if m.value is not None:
                        newest = m.value
                    if m.offset + 1 >= self._ends[tp]:
                        pending.discard(tp)
        if newest is not None:
            await self.apply(newest)
        while not self.should_stop:
            batches = await self._consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for m in messages:
                    if m.value is not None:
                        await self.apply(m.value)

    async def apply(self, value: bytes) -> None:
        try:
            topology, text = parse_record(value)
        except CorrelatorError as exc:
            log.error(
                "topology: new version rejected, keeping %s: %s",
                self.ctx.topology.topology.version,
                exc,
            )
            return
        current = self.ctx.topology
        if topology.version == current.topology.version:
            return
        current.swap(topology, text)
        log.info("topology: now using %s version %s", topology.name, topology.version)
        await self.ctx.send(
            [(self.ctx.topics.impact_input, b"topology", impact_topology(topology, text), 0)]
        )
