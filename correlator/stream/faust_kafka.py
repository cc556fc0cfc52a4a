"""Faust's Kafka transport with a short fetch wait (`WorkerConfig.fetch_wait_ms`).

aiokafka keeps at most one fetch request in flight per broker. A partition whose records were
still buffered when that request was built is left out of it, and its new records wait until the
request returns: for up to `fetch_max_wait_ms` when the other partitions are idle. Faust
hard-codes 1,500 ms there, which put up to 1.5 s stalls on every internal hop (alerts.keyed,
alert.transitions, impact.input). This transport sets the worker consumer's wait instead.

The same fetcher sends no fetch at all to a broker while any of its partitions has records
fetched but not yet consumed, for up to `prefetch_backoff` (100 ms in aiokafka). Faust's worker
consumer also fetches the changelog partitions of the active tables (our own table writes),
which its streams never consume: every table write parked the next fetch of every hop on that
broker for 100 ms. The transport bounds that wait by `fetch_wait_ms` too.

Neither setting is public in Faust or aiokafka (aiokafka's `Fetcher` takes `prefetch_backoff`,
but `AIOKafkaConsumer` never passes it), so this module reaches into private attributes. If an
upgrade renames them the hops would silently stall again; instead the worker refuses to start
with one `TuningError` line: `check_tuning_support` before the app is built, and the consumer
thread once more on the live consumer (`fetch_tuning` reads back what is in force).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver

from correlator.errors import CorrelatorError
from correlator.stream.commits import committable

DEFAULT_FETCH_WAIT_MS = 20

_PIN = "correlator is tested with aiokafka 0.14.0 and faust-streaming 0.15.3"


class TuningError(CorrelatorError):
    """aiokafka or Faust no longer has an internal the fetch tuning needs."""


@dataclass(frozen=True, slots=True)
class FetchTuning:
    """What the fetcher of a running consumer actually uses."""

    fetch_max_wait_ms: int
    prefetch_backoff_ms: float


def _missing(where: str, name: str) -> TuningError:
    return TuningError(
        f"{where} has no {name}: correlator/stream/faust_kafka.py does not fit the installed "
        f"aiokafka/Faust ({_PIN}); without it hops stall or commits skip records"
    )


def _uses(function: Any, name: str) -> bool:
    code = getattr(function, "__code__", None)
    return code is not None and name in code.co_names


def check_tuning_support() -> None:
    """Raise `TuningError` unless the installed aiokafka and Faust still have the internals the
    tuning writes and reads: checked on the code, before anything connects."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.consumer.fetcher import Fetcher

    consumer_start: Any = AIOKafkaConsumer.start
    if not _uses(AIOKafkaConsumer.__init__, "_fetch_max_wait_ms") or not _uses(
        consumer_start, "_fetch_max_wait_ms"
    ):
        raise _missing("aiokafka's AIOKafkaConsumer", "_fetch_max_wait_ms (read at start)")
    if not _uses(consumer_start, "_fetcher"):
        raise _missing("aiokafka's AIOKafkaConsumer", "_fetcher")
    if not _uses(Fetcher.__init__, "_prefetch_backoff") or not _uses(
        Fetcher._proc_fetch_request, "_prefetch_backoff"
    ):
        raise _missing("aiokafka's Fetcher", "_prefetch_backoff")
    if not hasattr(driver.AIOKafkaConsumerThread, "_create_worker_consumer"):
        raise _missing("Faust's AIOKafkaConsumerThread", "_create_worker_consumer")
    # The commit rule (`_Consumer._new_offset`) replaces Faust's and reads its bookkeeping.
    from faust.transport.consumer import Consumer

    base: Any = Consumer
    for name in ("_acked", "_acked_index", "_committed_offset", "_gap", "_unacked_messages"):
        if not _uses(base.__init__, name):
            raise _missing("Faust's Consumer", f"{name} (read by the commit rule)")
    if not _uses(base.__init__, "_read_offset") or not _uses(base._drain_messages, "_read_offset"):
        raise _missing("Faust's Consumer", "_read_offset (replaced for in-order topics)")
    if not _uses(base._filter_committable_offsets, "_new_offset"):
        raise _missing("Faust's Consumer", "_new_offset (replaced by the commit rule)")
    if not _uses(faust.App.on_rebalance_end, "rebalancing"):
        raise _missing("Faust's App", "rebalancing (no commits while it is set)")


def _wait_ms(app: Any) -> int:
    wait: int = getattr(app, "fetch_wait_ms", DEFAULT_FETCH_WAIT_MS)
    return wait


def _read(consumer: Any) -> FetchTuning:
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None:
        raise _missing("the started aiokafka consumer", "_fetcher")
    for name in ("_fetch_max_wait_ms", "_prefetch_backoff"):
        if not hasattr(fetcher, name):
            raise _missing("aiokafka's Fetcher", name)
    return FetchTuning(fetcher._fetch_max_wait_ms, round(fetcher._prefetch_backoff * 1000, 3))


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        if not hasattr(consumer, "_fetch_max_wait_ms"):
            raise _missing("aiokafka's AIOKafkaConsumer", "_fetch_max_wait_ms")
        # Read by aiokafka when it starts the fetcher (`AIOKafkaConsumer.start`).
        consumer._fetch_max_wait_ms = _wait_ms(self.app)
        return consumer

    async def on_start(self) -> None:
        await super().on_start()
        # The fetcher exists once the consumer started; it reads this for every fetch result.
        wait = _wait_ms(self.app)
        consumer: Any = self._consumer
        _read(consumer)  # both attributes are there before one is written
        consumer._fetcher._prefetch_backoff = wait / 1000
        effective = _read(consumer)
        if effective != FetchTuning(wait, float(wait)):
            raise TuningError(
                f"the fetch tuning did not take: the consumer uses {effective}, not "
                f"{wait} ms ({_PIN})"
            )

    def fetch_tuning(self) -> FetchTuning | None:
        consumer: Any = getattr(self, "_consumer", None)
        return None if consumer is None else _read(consumer)


class _ReadOffsets(dict[Any, int | None]):
    """Faust's read offset per partition (the last record handed to the streams): its fetch
    loop drops a record below it and notes a gap when a record jumps past it. Around an
    assignment that loses records (`correlator.stream.positions`): records fetched before the
    seek to the committed offsets advance it and are cleared from the stream queues, and the
    same records fetched again after the seek are dropped. For the topics whose stages apply
    each partition strictly in offset order it reads as unknown, so every fetched record is
    handed on and the stage drops the repeats itself."""

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app

    def __getitem__(self, tp: Any) -> int | None:
        if tp.topic in getattr(self.app, "in_order_topics", ()):
            return None
        return self.get(tp)


class _Consumer(driver.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_offset = _ReadOffsets(self.app)

    def ack(self, message: Any) -> bool:
        """An acknowledgement counts only for a record fetched in the current generation and
        while records flow. Faust acknowledges the records its streams skip while flow control
        is suspended (a rebalance) so that lag does not grow; counted, they would commit past
        records nobody applied. They are read again from the committed offset instead."""
        if message.generation_id != self.app.consumer_generation_id:
            return False
        if not self.app.flow_control.is_active():
            return False
        acked: bool = super().ack(message)
        return acked

    def _new_offset(self, tp: Any) -> int | None:
        """Commit only what every stage has applied (`correlator.stream.commits`): Faust's own
        rule commits past a record still waiting at the committed offset. Nothing is committed
        while the group rebalances: Faust forgets the committed offsets of revoked partitions
        and learns them again only when it seeks the partitions back to them."""
        if self.app.rebalancing:
            return None
        acked = self._acked[tp]
        if not acked:
            return None
        gaps = self._gap[tp]
        if gaps and tp.topic in getattr(self.app, "in_order_topics", ()):
            # Faust notes a gap when a delivery jumps past records it dropped or cleared
            # around an assignment (`correlator.stream.positions`). These topics are neither
            # compacted nor transactional: every offset is a record, read again and applied.
            gaps.clear()
        if gaps:  # offsets that will never be delivered (compaction, transaction markers)
            for interval in gaps.overlap(0, max(acked)):
                acked.extend(range(interval.begin, interval.end))
            gaps.chop(0, max(acked) + 1)
        committed = self._committed_offset[tp]
        generation = self.app.consumer_generation_id
        pending = [
            m.offset
            for m in list(self._unacked_messages)
            if m.tp == tp and not m.acked and m.generation_id == generation
        ]
        offset = committable(acked, committed, pending)
        if offset is None:
            return None
        done = {o for o in acked if o < offset}
        acked[:] = sorted(o for o in set(acked) if o >= offset)
        self._acked_index[tp].difference_update(done)
        return offset

    def _new_consumer_thread(self) -> Any:
        thread = _ConsumerThread(self, loop=self.loop, beacon=self.beacon)
        self.correlator_thread = thread
        return thread


class _Transport(driver.Transport):
    Consumer = _Consumer


def fetch_tuning(app: Any) -> FetchTuning | None:
    """The fetch settings in force on the app's running worker consumer (None before it
    started)."""
    thread: _ConsumerThread | None = getattr(app.consumer, "correlator_thread", None)
    return None if thread is None else thread.fetch_tuning()


class CorrelatorApp(faust.App):
    """`faust.App` whose consumer fetches with a wait of `fetch_wait_ms` milliseconds."""

    fetch_wait_ms: int = DEFAULT_FETCH_WAIT_MS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_order_topics: set[str] = set()
        """Input topics whose stages apply each partition strictly in offset order
        (`correlator.stream.positions`): Faust's gaps never count as acknowledged there."""

    def _new_transport(self) -> Any:
        check_tuning_support()
        return _Transport(self.conf.broker_consumer, self)
