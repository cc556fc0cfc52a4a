"""Ingest: `alerts.raw` → decode → canonical alerts on `alerts.keyed`, bad input on `alerts.dlq`.

The heavy stage. It runs as a mode Service inside the Faust app with its own aiokafka consumer
(`getmany`), because Faust's per-event stream path tops out near 6k messages/s. Each batch is
decoded, its alerts grouped by destination partition (one record per partition per batch), the
outputs sent and acknowledged, and only then the input offsets committed (at-least-once).

A broker outage never ends the stage: a batch whose outputs were not acknowledged is sent again
(with a growing pause) until they are, and a failed commit is logged and left to the next one
(or to redelivery after a rebalance; repeats are harmless downstream).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mode import Service

from correlator.adapters import decode_payload
from correlator.stream.codec import (
    alert_to_hop,
    dead_letter_value,
    dumps,
    partition_for,
    unwrap_raw,
)
from correlator.stream.context import StageContext, log
from correlator.stream.kafka_io import client_kwargs, gather_sends, new_producer
from correlator.stream.metrics import WorkerMetrics


def decode_batch(
    messages: list[Any],
    partitions: int,
    max_bytes: int,
    read_at: int,
    metrics: WorkerMetrics | None = None,
) -> tuple[dict[int, list[dict[str, Any]]], list[bytes], int]:
    """Decode raw records: hop alerts grouped by partition, dead-letter values, alert count."""
    by_partition: dict[int, list[dict[str, Any]]] = {}
    dead: list[bytes] = []
    count = 0
    for m in messages:
        body, received, fmt = unwrap_raw(m.value or b"", read_at)
        decoded = decode_payload(body, received, fmt=fmt, max_bytes=max_bytes)
        if metrics is not None:
            metrics.observe_decoded(decoded)
        for letter in decoded.dead_letters:
            dead.append(dumps(dead_letter_value(letter, m.topic, m.partition, m.offset)))
        for alert in decoded.alerts:
            p = partition_for(alert.fingerprint, partitions)
            by_partition.setdefault(p, []).append(alert_to_hop(alert))
            count += 1
    return by_partition, dead, count


HOP_RECORD_BYTES = 512 * 1024
"""Largest `alerts.keyed` record built from many alerts: far below Kafka's 1 MiB default, so a
batch of alerts with large annotations is split instead of refused by the broker."""


def hop_records(
    by_partition: dict[int, list[dict[str, Any]]], limit: int = HOP_RECORD_BYTES
) -> list[tuple[int, bytes]]:
    """(partition, `alerts.keyed` value) records: per partition, its alerts in order, as few
    records as fit under `limit` bytes (an alert larger than that goes alone)."""
    out: list[tuple[int, bytes]] = []
    for partition, alerts in by_partition.items():
        chunk: list[bytes] = []
        size = 0
        for alert in alerts:
            part = dumps(alert)
            if chunk and size + len(part) > limit:
                out.append((partition, _hop_value(chunk)))
                chunk, size = [], 0
            chunk.append(part)
            size += len(part) + 1
        if chunk:
            out.append((partition, _hop_value(chunk)))
    return out


def _hop_value(parts: list[bytes]) -> bytes:
    # The same JSON as dumps({"schema": 1, "alerts": [...]}), without re-encoding the alerts.
    return b'{"schema":1,"alerts":[' + b",".join(parts) + b"]}"


class IngestService(Service):
    """The ingest stage of one worker (a member of the `<app id>-ingest` consumer group)."""

    def __init__(self, ctx: StageContext, **kwargs: Any) -> None:
        self.ctx = ctx
        self._consumer: Any = None
        self._producer: Any = None
        self._partitions = 1
        self.newest_read_ms: int | None = None
        """Kafka timestamp of the newest raw record processed so far (for `GET /health`)."""
        super().__init__(**kwargs)

    async def lag(self) -> dict[int, int | None]:
        """Records behind, per `alerts.raw` partition this worker's ingest consumer holds:
        highwater − position (None until a fetch of that partition told its highwater)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        out: dict[int, int | None] = {}
        for tp in sorted(consumer.assignment()):
            high = consumer.highwater(tp)
            position = await consumer.position(tp)
            out[tp.partition] = None if high is None else max(high - position, 0)
        return out

    async def on_start(self) -> None:
        from aiokafka import AIOKafkaConsumer

        config = self.ctx.config
        fast = (
            {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500}
            if (config.fast_timeouts)
            else {}
        )
        self._consumer = AIOKafkaConsumer(
            self.ctx.topics.raw,
            **client_kwargs(config),
            group_id=f"{config.app_id}-ingest",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=config.ingest_batch,
            fetch_max_bytes=64 * 1024 * 1024,
            fetch_max_wait_ms=config.fetch_wait_ms,
            **fast,
        )
        self._producer = new_producer(config, linger_ms=2, max_batch_size=1024 * 1024)
        await self._producer.start()
        await self._consumer.start()
        self._partitions = len(await self._producer.partitions_for(self.ctx.topics.keyed))

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    @Service.task
    async def _consume(self) -> None:
        config = self.ctx.config
        topics = self.ctx.topics
        while not self.should_stop:
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=200, max_records=config.ingest_batch
                )
            except Exception as exc:  # aiokafka retries a lost broker itself; this is the rest
                log.warning("ingest: fetch failed, trying again: %r", exc)
                await asyncio.sleep(1.0)
                continue
            if not batches:
                continue
            started = time.perf_counter()
            messages = [m for ms in batches.values() for m in ms]
            by_partition, dead, count = decode_batch(
                messages,
                self._partitions,
                config.max_payload_bytes,
                int(time.time() * 1000),
                self.ctx.metrics,
            )
            hops = hop_records(by_partition)
            outputs: list[tuple[str, bytes, int | None]] = [
                (topics.keyed, value, p) for p, value in hops
            ]
            outputs.extend((topics.dlq, value, None) for value in dead)
            if not await self._deliver(outputs):
                return  # stopping: the batch stays uncommitted and is read again
            self.ctx.count(f"sent:{topics.keyed}", len(hops))
            await self._commit({tp: ms[-1].offset + 1 for tp, ms in batches.items()})
            self.ctx.metrics.stage_seconds.labels("ingest").observe(time.perf_counter() - started)
            self.ctx.count("ingest.records", len(messages))
            self.newest_read_ms = max(m.timestamp for m in messages)
            self.ctx.count("ingest.alerts", count)
            if dead:
                self.ctx.count("ingest.dead_letters", len(dead))
                log.info("ingest: %d dead letter(s) sent to %s", len(dead), topics.dlq)

    async def _deliver(self, outputs: list[tuple[str, bytes, int | None]]) -> bool:
        """Send every output and wait for its acknowledgement, again and again while the broker
        does not give it; False if the service is stopping first."""
        pause = 0.5
        while True:
            try:
                futures = [
                    await self._producer.send(topic, value, partition=partition)
                    for topic, value, partition in outputs
                ]
                await gather_sends(futures)
                if pause > 0.5:
                    log.warning("ingest: the broker acknowledges again")
                return True
            except Exception as exc:  # KafkaError, timeouts: the broker is away
                if self.should_stop:
                    return False
                log.warning("ingest: outputs not acknowledged (%r); sending again", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _commit(self, offsets: dict[Any, int]) -> None:
        try:
            await self._consumer.commit(offsets)
        except Exception as exc:  # CommitFailedError after a rebalance, KafkaError
            log.warning("ingest: offset commit failed (the batch may be read again): %r", exc)
