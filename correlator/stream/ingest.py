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
from correlator.core.stages import Mark
from correlator.stream.context import StageContext, log
from correlator.stream.kafka_io import gather_sends, new_producer
from correlator.stream.metrics import WorkerMetrics
from correlator.stream.topics import partition_for
from correlator.wire import (
    alert_to_hop,
    dead_letter_value,
    dumps,
    marks_value,
    unwrap_raw,
)


def decode_batch(
    messages: list[Any],
    partitions: int,
    max_bytes: int,
    read_at: int,
    metrics: WorkerMetrics | None = None,
    newest: dict[int, int] | None = None,
) -> tuple[dict[int, list[dict[str, Any]]], list[bytes], int]:
    """Decode raw records: hop alerts grouped by partition, dead-letter values, alert count.
    `newest` collects the latest event time read per raw partition."""
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
            if newest is not None:
                newest[m.partition] = max(newest.get(m.partition, 0), alert.event_time)
            p = partition_for(alert.fingerprint, partitions)
            hop = alert_to_hop(alert)
            hop["org"] = [m.partition, m.offset]
            by_partition.setdefault(p, []).append(hop)
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


MARK_EVERY = 0.25
"""Seconds between progress marks while nothing is read (they renew `EventTimeOrder` leases)."""


class IngestService(Service):
    """The ingest stage of one worker (a member of the `<app id>-ingest` consumer group)."""

    def __init__(self, ctx: StageContext, **kwargs: Any) -> None:
        self.ctx = ctx
        self._consumer: Any = None
        self._producer: Any = None
        self._partitions = 1
        self._raw_partitions = 1
        self._newest: dict[int, int] = {}
        """Per raw partition, the latest event time read (the `read` of its progress mark)."""
        self._marked_at = 0.0
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
        from aiokafka.errors import IllegalStateError

        for tp in sorted(consumer.assignment()):
            high = consumer.highwater(tp)
            try:
                position = await consumer.position(tp)
            except IllegalStateError:  # revoked meanwhile: its new owner marks it
                continue
            out[tp.partition] = None if high is None else max(high - position, 0)
        return out

    async def on_start(self) -> None:
        config = self.ctx.config
        session = 6.0 if config.fast_timeouts else config.session_timeout
        fast: dict[str, Any] = {
            "session_timeout_ms": int(session * 1000),
            "heartbeat_interval_ms": int(max(0.1, min(1.0, session / 5)) * 1000),
        }
        if config.instance_id is not None:
            fast["group_instance_id"] = f"{config.instance_id}-ingest"
        self._consumer = config.kafka.consumer(
            self.ctx.topics.raw,
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
        self._raw_partitions = len(await self._producer.partitions_for(self.ctx.topics.raw))

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
                    timeout_ms=100, max_records=config.ingest_batch
                )
            except Exception as exc:  # aiokafka retries a lost broker itself; this is the rest
                log.warning("ingest: fetch failed, trying again: %r", exc)
                await asyncio.sleep(1.0)
                continue
            if not batches:
                if time.monotonic() - self._marked_at >= MARK_EVERY:
                    try:
                        await gather_sends(await self._send_marks())
                    except Exception as exc:  # the broker is away: marks again after it
                        log.warning("ingest: progress marks not sent: %r", exc)
                        await asyncio.sleep(1.0)
                continue
            started = time.perf_counter()
            messages = [m for ms in batches.values() for m in ms]
            by_partition, dead, count = decode_batch(
                messages,
                self._partitions,
                config.max_payload_bytes,
                int(time.time() * 1000),
                self.ctx.metrics,
                self._newest,
            )
            hops = hop_records(by_partition)
            outputs: list[tuple[str, bytes, int | None]] = [
                (topics.keyed, value, p) for p, value in hops
            ]
            outputs.extend((topics.dlq, value, None) for value in dead)
            if not await self._deliver(outputs):
                return  # stopping: the batch stays uncommitted and is read again
            try:  # after the alerts they cover, in the same partitions
                await gather_sends(await self._send_marks())
            except Exception as exc:  # the broker went away: the next marks say as much
                log.warning("ingest: progress marks not sent: %r", exc)
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
        """Commit what was processed. When the group rebalanced meanwhile (a worker joined or
        died), the commit is refused: the partitions' new owner reads those records again
        (at-least-once; alert state drops the repeats), and this worker carries on. A broker
        away fails it too: the records are read again after it returns."""
        try:
            await self._consumer.commit(offsets)
        except Exception as exc:  # CommitFailedError, IllegalStateError, KafkaError
            log.info("ingest: offset commit failed (the batch may be read again): %r", exc)

    async def _send_marks(self) -> list[Any]:
        """Tell every alert-state partition how far each raw partition held here has been read
        (after the alerts it covers, in the same partition): the stages downstream apply their
        inputs in event-time order across partitions (`EventTimeOrder`)."""
        self._marked_at = time.monotonic()
        consumer = self._consumer
        marks: list[tuple[int, Mark]] = []
        from aiokafka.errors import IllegalStateError

        for tp in sorted(consumer.assignment()):
            high = consumer.highwater(tp)
            try:
                position = await consumer.position(tp)
            except IllegalStateError:  # revoked meanwhile: its new owner marks it
                continue
            caught_up = high is not None and position >= high
            read = self._newest.get(tp.partition, 0)
            marks.append((tp.partition, Mark(position, read, caught_up)))
        if not marks:
            return []
        value = marks_value(0, marks, self._raw_partitions)
        return [
            await self._producer.send(self.ctx.topics.keyed, value, partition=p)
            for p in range(self._partitions)
        ]
