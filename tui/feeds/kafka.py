"""`KafkaFeed`: the live war room, straight from the pipeline's output topics (aiokafka).

The compacted topics (`incidents`, `service.impact`, `impact.summary`) are read from the beginning,
so the war room starts with the full current picture, and then followed; `incident.events` is read
from `events_lookback_s` ago (so a responder who joins late still sees how each incident got where
it is) and `alerts.unmapped` from its end. No consumer group: every war room reads everything
and commits nothing. When the broker goes away the feed reports `connected = False` and reconnects
with exponential backoff, resuming every partition at the offset after the last record it read
(kept in memory), so nothing written while it was away is skipped and nothing is read twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Final

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from correlator.errors import BrokerError
from correlator.kafka_connection import KafkaConnection, KafkaProblem
from correlator.records import (
    TOPIC_ALERTS_UNMAPPED,
    TOPIC_IMPACT_SUMMARY,
    TOPIC_INCIDENT_ACTIONS,
    TOPIC_INCIDENT_EVENTS,
    TOPIC_INCIDENTS,
    TOPIC_SERVICE_IMPACT,
    Record,
)
from tui.feeds.base import ack_value, utc_now_rfc3339

log = logging.getLogger(__name__)

COMPACTED: Final = (TOPIC_INCIDENTS, TOPIC_SERVICE_IMPACT, TOPIC_IMPACT_SUMMARY)
"""Read from the beginning: together they are the current state."""
ACTIONS: Final = (TOPIC_INCIDENT_ACTIONS,)
"""Read from the beginning too: the maintenance windows declared there (acks are ignored)."""
FOLLOWED: Final = (TOPIC_INCIDENT_EVENTS, TOPIC_ALERTS_UNMAPPED)
"""Read from the end (`incident.events`: from the lookback)."""
EVENTS_LOOKBACK_S: Final = 6 * 3600.0
"""How far back incident events are read at start, for the incidents' timelines."""
HEALTH_CHECK_S: Final = 5.0
"""How often an idle link is probed (a metadata request) so a dead broker shows quickly."""


class KafkaFeed:
    """Live records from the cluster `kafka` names (with its security settings, like the
    worker); `prefix` is prepended verbatim to each logical topic name."""

    def __init__(
        self,
        kafka: KafkaConnection,
        prefix: str = "",
        *,
        backoff_initial: float = 0.5,
        backoff_max: float = 5.0,
        request_timeout_s: float = 10.0,
        events_lookback_s: float = EVENTS_LOOKBACK_S,
    ) -> None:
        self.kafka = kafka
        self.bootstrap = kafka.bootstrap
        self.prefix = prefix
        self.description = f"kafka {kafka.describe()}"
        self.last_error: str | None = None
        self._problem: KafkaProblem | None = None
        self._connected = False
        self._closed = False
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._timeout = request_timeout_s
        self._lookback_s = events_lookback_s
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()
        self._logical = {self.topic(t): t for t in (*COMPACTED, *ACTIONS, *FOLLOWED)}
        self._positions: dict[TopicPartition, int] = {}
        """The next offset to read per partition, kept across reconnections."""

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def link_error(self) -> str | None:
        if self._connected or self.last_error is None:
            return None
        if self._problem is not None and not self._problem.unreachable:
            return f"{self._problem.message} — retrying"  # wrong credentials, protocol, TLS
        return f"no broker at {self.bootstrap} — retrying"

    def topic(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    async def __aiter__(self) -> AsyncIterator[Record]:
        backoff = self._backoff_initial
        while not self._closed:
            consumer: AIOKafkaConsumer = self.kafka.consumer(
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                request_timeout_ms=int(self._timeout * 1000),
            )
            try:
                await asyncio.wait_for(consumer.start(), self._timeout)
                assigned = await self._assign(consumer)
                self._connected = True
                self.last_error = None
                backoff = self._backoff_initial
                async for record in self._poll(consumer, assigned):
                    yield record
            except (KafkaError, OSError, TimeoutError) as exc:
                # aiokafka only says "Unable to bootstrap": ask the broker why, once per failure.
                self._problem = await self.kafka.diagnose(min(self._timeout, 5.0))
                detail = exc if self._problem is None else self._problem.message
                self.last_error = f"{type(exc).__name__}: {detail}"
                log.warning("war room feed lost the broker %s: %s", self.bootstrap, detail)
            finally:
                self._connected = False
                await _stop_client(consumer, self._timeout)
            if not self._closed:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff_max)

    async def _assign(self, consumer: AIOKafkaConsumer) -> set[str]:
        """Subscribe to the wanted topics that exist (never auto-create the pipeline's topics
        with broker defaults). A partition read before resumes where it was; otherwise a followed
        one starts at its end (that end is remembered at once, so a record written during a later
        outage is not skipped) and a compacted one at its beginning."""
        existing: set[str] = await asyncio.wait_for(consumer.topics(), self._timeout)
        wanted = {t for t in self._logical if t in existing}
        if not wanted:
            return wanted
        # Without a group, aiokafka assigns every partition of a subscribed topic itself.
        consumer.subscribe(topics=sorted(wanted))
        deadline = time.monotonic() + self._timeout
        while {tp.topic for tp in consumer.assignment()} != wanted:
            if time.monotonic() > deadline:
                raise TimeoutError("partitions were not assigned in time")
            await asyncio.sleep(0.05)
        follow, look_back = [], []
        for tp in consumer.assignment():
            if tp in self._positions:
                consumer.seek(tp, self._positions[tp])
            elif self._logical[tp.topic] == TOPIC_INCIDENT_EVENTS and self._lookback_s > 0:
                look_back.append(tp)
            elif self._logical[tp.topic] in FOLLOWED:
                follow.append(tp)
        if look_back:
            since = int((time.time() - self._lookback_s) * 1000)
            found = await asyncio.wait_for(
                consumer.offsets_for_times(dict.fromkeys(look_back, since)), self._timeout
            )
            for tp in look_back:
                offset = found.get(tp)
                if offset is None:  # nothing that recent: follow from the end
                    follow.append(tp)
                else:
                    consumer.seek(tp, offset.offset)
                    self._positions[tp] = offset.offset
        if follow:
            await asyncio.wait_for(consumer.seek_to_end(*follow), self._timeout)
            for tp in follow:
                self._positions[tp] = await asyncio.wait_for(consumer.position(tp), self._timeout)
        return wanted

    async def _poll(self, consumer: AIOKafkaConsumer, assigned: set[str]) -> AsyncIterator[Record]:
        next_check = time.monotonic() + HEALTH_CHECK_S
        while not self._closed:
            if not assigned:  # nothing to read yet: wait for the pipeline to create its topics
                await asyncio.sleep(HEALTH_CHECK_S)
                return
            batches: dict[TopicPartition, list[Any]] = await consumer.getmany(
                timeout_ms=250, max_records=500
            )
            for tp, messages in batches.items():
                for message in messages:
                    self._positions[tp] = message.offset + 1
                    record = self._decode(message)
                    if record is not None:
                        yield record
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + HEALTH_CHECK_S
                # A metadata request raises KafkaError when no broker answers; it also tells us
                # when a topic we wanted has been created since we started.
                existing: set[str] = await asyncio.wait_for(consumer.topics(), self._timeout)
                if any(t in existing and t not in assigned for t in self._logical):
                    return  # reassign from the top, including the new topic

    def _decode(self, message: Any) -> Record | None:
        logical = self._logical.get(message.topic)
        if logical is None:
            return None
        key = message.key.decode("utf-8", "replace") if message.key is not None else ""
        if message.value is None:
            return Record(logical, key, None)
        try:
            value = orjson.loads(message.value)
        except orjson.JSONDecodeError:
            log.warning("undecodable record on %s at offset %s", message.topic, message.offset)
            return None
        if not isinstance(value, dict):
            return None
        return Record(logical, key, value)

    async def acknowledge(self, incident_id: str, by: str) -> None:
        value = ack_value(incident_id, by, utc_now_rfc3339())
        try:
            producer = await self._get_producer()
            await asyncio.wait_for(
                producer.send_and_wait(
                    self.topic(TOPIC_INCIDENT_ACTIONS),
                    key=incident_id.encode(),
                    value=orjson.dumps(value),
                ),
                self._timeout,
            )
        except (KafkaError, OSError, TimeoutError) as exc:
            await self._drop_producer()
            raise BrokerError(
                f"acknowledgement of {incident_id} not sent: broker {self.bootstrap} "
                f"unreachable ({type(exc).__name__})"
            ) from None

    async def _get_producer(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                producer: AIOKafkaProducer = self.kafka.producer(
                    acks="all",
                    request_timeout_ms=int(self._timeout * 1000),
                )
                try:
                    await asyncio.wait_for(producer.start(), self._timeout)
                except BaseException:
                    await _stop_client(producer, self._timeout)
                    raise
                self._producer = producer
            return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _stop_client(producer, self._timeout)

    async def close(self) -> None:
        self._closed = True
        await self._drop_producer()


async def _stop_client(client: AIOKafkaConsumer | AIOKafkaProducer, timeout: float) -> None:
    """Stop an aiokafka client whose broker may be gone, without letting its failure escape.

    `stop()` runs in a task of its own: when a fetch was in flight, aiokafka's consumer cancels it
    and then awaits it, so a `CancelledError` that is not ours comes out of `stop()`. Awaited
    directly (even under `wait_for`) it would end the feed as if the app had cancelled it, and the
    war room would stay `disconnected` for good. Our own cancellation still propagates from
    `asyncio.wait`.
    """
    stopping = asyncio.ensure_future(client.stop())
    done, _ = await asyncio.wait({stopping}, timeout=timeout)
    if not done:
        stopping.cancel()
    elif not stopping.cancelled() and stopping.exception() is not None:
        log.debug("stopping a Kafka client failed: %r", stopping.exception())
