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
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver

DEFAULT_FETCH_WAIT_MS = 20


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait = getattr(self.app, "fetch_wait_ms", DEFAULT_FETCH_WAIT_MS)
        # Read by aiokafka when it starts the fetcher (`AIOKafkaConsumer.start`).
        consumer._fetch_max_wait_ms = wait
        return consumer

    async def on_start(self) -> None:
        await super().on_start()
        # The fetcher exists once the consumer started; it reads this for every fetch result.
        wait = getattr(self.app, "fetch_wait_ms", DEFAULT_FETCH_WAIT_MS)
        consumer: Any = self._consumer
        consumer._fetcher._prefetch_backoff = wait / 1000


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(driver.Transport):
    Consumer = _Consumer


class CorrelatorApp(faust.App):
    """`faust.App` whose consumer fetches with a wait of `fetch_wait_ms` milliseconds."""

    fetch_wait_ms: int = DEFAULT_FETCH_WAIT_MS

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
