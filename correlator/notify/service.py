"""The notifier inside the worker: a mode `Service` like the history sink, restarted after a
failure, stopped through its stop event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from mode import Service

from correlator.kafka_connection import KafkaConnection
from correlator.notify.consumer import NotifyStats
from correlator.notify.settings import NotifySettings

log = logging.getLogger("correlator.notify")


class NotifyService(Service):
    """`run_notifier` in the consumer group `<app id>-notify`."""

    restart_delay = 5.0

    def __init__(
        self,
        kafka: KafkaConnection,
        prefix: str,
        group: str,
        settings: NotifySettings,
        **kwargs: Any,
    ) -> None:
        self.kafka = kafka
        self.prefix = prefix
        self.group = group
        self.settings = settings
        self.stats = NotifyStats()
        """Counts kept across restarts of the notifier (read by `/metrics`)."""
        self._stop_notify = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self._stop_notify.clear()
        self._task = asyncio.create_task(self._run(), name="correlator-notify")

    async def on_stop(self) -> None:
        self._stop_notify.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 30.0)
            except TimeoutError:
                log.warning("notifier did not stop within 30 s")

    async def _run(self) -> None:
        from correlator.notify.consumer import run_notifier

        while not self._stop_notify.is_set():
            try:
                stats = await run_notifier(
                    self.kafka,
                    self.prefix,
                    self.settings,
                    group=self.group,
                    stop_event=self._stop_notify,
                    stats=self.stats,
                )
                log.info("notifier stopped: %s", stats)
                return
            except Exception as exc:  # the worker keeps running; the notifier tries again
                log.error("notifier failed, restarting in %.0f s: %s", self.restart_delay, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_notify.wait(), self.restart_delay)
