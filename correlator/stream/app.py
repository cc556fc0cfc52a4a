"""The `faust.App` factory: one app per worker, with every stage registered on it.

`prepare` runs first (outside Faust): it creates every topic explicitly and settles the
topology to start with. `create_app` then builds the app; `correlator worker` runs it with
`faust.Worker`, the tests with `await app.start()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import faust
from mode import Service

from correlator.broker import ensure_topics
from correlator.errors import UsageError
from correlator.kafka_connection import MAX_RECORD_BYTES
from correlator.stream import actions, alert_state, health, impact, ingress, topology
from correlator.stream.config import WorkerConfig
from correlator.stream.context import CurrentTopology, StageContext
from correlator.stream.faust_kafka import CorrelatorApp, check_tuning_support
from correlator.stream.ingest import IngestService
from correlator.stream.topics import topic_specs, topics_for
from correlator.topology_files import load_topology

log = logging.getLogger("correlator.stream")


async def prepare(config: WorkerConfig) -> CurrentTopology:
    """Create every topic, then pick the topology to start with.

    A topology file given to the worker wins at start: when it differs from the newest version
    on the `topology` topic it is published there, so every worker converges on it. Without a
    file, the newest published version is used.
    """
    await ensure_topics(config.kafka, topic_specs(config))
    published = await topology.latest_published(config)
    if config.topology_path is not None:
        from pathlib import Path

        start = load_topology(config.topology_path)
        text = Path(config.topology_path).read_text(encoding="utf-8")
        if published is None or published[0].version != start.version:
            await topology.publish_topology(config, start, text, config.topology_path)
        return CurrentTopology(start, text)
    if published is None:
        raise UsageError(
            "no topology: give --topology FILE (or CORRELATOR_TOPOLOGY), or publish one with "
            "`correlator topology publish FILE`"
        )
    return CurrentTopology(*published)


def create_app(config: WorkerConfig, current: CurrentTopology | None = None) -> faust.App:
    """The Faust app of one worker. Topics must exist (`prepare`)."""
    check_tuning_support()  # one clear error before anything starts, not a silent stall later
    if current is None:
        if config.topology_path is None:
            raise UsageError("create_app needs a topology (config.topology_path or `current`)")
        from pathlib import Path

        start = load_topology(config.topology_path)
        current = CurrentTopology(start, Path(config.topology_path).read_text(encoding="utf-8"))
    settings: dict[str, Any] = {
        "broker": config.kafka.faust_broker(),
        "store": config.store,
        # At-least-once end to end (README, "Recovery and delivery"): every stage sends and
        # waits for the acks before its offsets are committed; consumers drop repeats by `seq`.
        "processing_guarantee": "at_least_once",
        "topic_partitions": config.partitions,
        "topic_replication_factor": config.replication_factor,
        "topic_allow_declare": True,
        "table_standby_replicas": 0,
        "consumer_auto_offset_reset": "earliest",
        "stream_wait_empty": False,
        "web_enabled": config.web_enabled,
        "web_port": config.web_port,
        # The ingress reads bodies itself and answers 413 with the limit; aiohttp's own limit
        # (1 MiB by default, for `request.read()`) must never be the tighter one.
        "web_application_options": {"client_max_size": config.max_payload_bytes + 65536},
        "autodiscover": False,
        "broker_credentials": config.kafka.faust_credentials(),
        # A storm's incident snapshot lists every component: past 1 MB (Faust's and Kafka's
        # default) at about 3,500 of them, and the impact agent crashed sending it.
        "producer_max_request_size": MAX_RECORD_BYTES,
        "consumer_max_fetch_size": MAX_RECORD_BYTES,
    }
    # Faust's defaults (60 s session timeout) leave a killed worker's partitions unread for a
    # minute; 10 s with a heartbeat every second bounds the takeover (README "Recovery").
    settings.update(
        broker_session_timeout=config.session_timeout,
        broker_heartbeat_interval=max(0.1, min(1.0, config.session_timeout / 5)),
        broker_rebalance_timeout=max(config.session_timeout, 20.0),
        broker_commit_interval=1.0,
        consumer_group_instance_id=config.instance_id,
    )
    if config.fast_timeouts:
        settings.update(
            broker_session_timeout=3.0,
            broker_heartbeat_interval=0.5,
            broker_rebalance_timeout=10.0,
            broker_commit_interval=0.5,
        )
    app = CorrelatorApp(config.app_id, **settings)
    app.fetch_wait_ms = config.fetch_wait_ms
    ctx = StageContext(config, topics_for(config), current, app)
    app.correlator = ctx  # type: ignore[attr-defined]
    alert_state.register(app, ctx)
    health.register(app, ctx)
    stage = impact.register(app, ctx)
    app.correlator_impact = stage  # type: ignore[attr-defined]
    ctx.metrics.watch_impact(
        lambda: (
            None
            if stage.state is None
            else (stage.state.tracker.open_snapshots(), stage.state.tracker.summary)
        )
    )
    actions.register(app, ctx)
    ingest = IngestService(ctx)
    app.service(ingest)  # type: ignore[arg-type]
    app.service(topology.TopologyWatcher(ctx))  # type: ignore[arg-type]
    if config.web_enabled:
        ingress.register(app, ctx, ingest)
    if config.db_url is not None:
        app.service(HistorySink(config))  # type: ignore[arg-type]
    if config.notify is not None:
        from correlator.notify.service import NotifyService

        notifier = NotifyService(
            config.kafka, config.topic_prefix, f"{config.app_id}-notify", config.notify
        )
        ctx.metrics.watch_notify(notifier.stats)
        app.service(notifier)  # type: ignore[arg-type]
    return app


class HistorySink(Service):
    """The store sink (`correlator.store.run_sink`) inside the worker: `incident.events` into
    the history database at `config.db_url`, in the consumer group `<prefix>correlator-store`.
    Stopped through its stop event, so the batch in hand is committed or left for redelivery."""

    restart_delay = 5.0

    def __init__(self, config: WorkerConfig, **kwargs: Any) -> None:
        self.config = config
        self._stop_sink = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self._stop_sink.clear()
        self._task = asyncio.create_task(self._run(), name="correlator-history-sink")

    async def on_stop(self) -> None:
        self._stop_sink.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 30.0)
            except TimeoutError:
                log.warning("store sink did not stop within 30 s")

    async def _run(self) -> None:
        from correlator.store.history import display_url
        from correlator.store.sink import run_sink

        config = self.config
        assert config.db_url is not None
        while not self._stop_sink.is_set():
            try:
                counts = await run_sink(
                    config.kafka,
                    config.topic_prefix,
                    config.db_url,
                    group=f"{config.app_id}-store",
                    stop_event=self._stop_sink,
                )
                log.info("store sink stopped: %s", counts)
                return
            except Exception as exc:  # the worker keeps running; the sink tries again
                log.error(
                    "store sink (%s) failed, restarting in %.0f s: %s",
                    display_url(config.db_url),
                    self.restart_delay,
                    exc,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_sink.wait(), self.restart_delay)
