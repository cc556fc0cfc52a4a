"""Ingest: `alerts.raw` → decode → canonical alerts on `alerts.keyed`, bad input on `alerts.dlq`.

The heavy stage. It runs as a mode Service inside the Faust app with its own aiokafka consumer
(`getmany`), because Faust's per-event stream path tops out near 6k messages/s. Each batch is
decoded, its alerts grouped by destination partition (one record per partition per batch), the
outputs sent and acknowledged, and only then the input offsets committed (at-least-once).
"""

from __future__ import annotations

import time
from typing import Any

from mode import Service

from correlator.adapters import decode_payload
from correlator.core.stages import Mark
from correlator.stream.context import StageContext, log
from correlator.stream.kafka_io import client_kwargs, gather_sends, new_producer
from correlator.stream.topics import partition_for
from correlator.wire import (
    alert_to_hop,
    dead_letter_value,
    dumps,
    keyed_value,
    marks_value,
    unwrap_raw,
)


def decode_batch(
    messages: list[Any],
    partitions: int,
    max_bytes: int,
    read_at: int,
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
        from aiokafka import AIOKafkaConsumer

        config = self.ctx.config
        session = 6.0 if config.fast_timeouts else config.session_timeout
        fast: dict[str, Any] = {
            "session_timeout_ms": int(session * 1000),
            "heartbeat_interval_ms": int(max(0.1, min(1.0, session / 5)) * 1000),
        }
        if config.instance_id is not None:
            fast["group_instance_id"] = f"{config.instance_id}-ingest"
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
            batches = await self._consumer.getmany(timeout_ms=100, max_records=config.ingest_batch)
            if not batches:
                if time.monotonic() - self._marked_at >= MARK_EVERY:
                    await gather_sends(await self._send_marks())
                continue
            messages = [m for ms in batches.values() for m in ms]
            by_partition, dead, count = decode_batch(
                messages,
                self._partitions,
                config.max_payload_bytes,
                int(time.time() * 1000),
                self._newest,
            )
            futures = [
                await self._producer.send(topics.keyed, keyed_value(alerts), partition=p)
                for p, alerts in by_partition.items()
            ]
            futures.extend([await self._producer.send(topics.dlq, value) for value in dead])
            futures.extend(await self._send_marks())
            await gather_sends(futures)
            self.ctx.count(f"sent:{topics.keyed}", len(by_partition))
            await self._commit({tp: ms[-1].offset + 1 for tp, ms in batches.items()})
            self.ctx.count("ingest.records", len(messages))
            self.newest_read_ms = max(m.timestamp for m in messages)
            self.ctx.count("ingest.alerts", count)
            if dead:
                self.ctx.count("ingest.dead_letters", len(dead))
                log.info("ingest: %d dead letter(s) sent to %s", len(dead), topics.dlq)

    async def _commit(self, offsets: dict[Any, int]) -> None:
        """Commit what was processed. When the group rebalanced meanwhile (a worker joined or
        died), the commit is refused: the partitions' new owner reads those records again
        (at-least-once; alert state drops the repeats), and this worker carries on."""
        from aiokafka.errors import CommitFailedError, IllegalStateError

        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            log.info(
                "ingest: commit refused after a rebalance, records will be read again: %s", exc
            )

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
