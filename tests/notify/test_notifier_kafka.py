"""The notifier against the real broker and a real local HTTP server: what arrives, in which
shape, after retries; and inside the worker, from its own consumer group."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer

from correlator.broker import KafkaBroker, ensure_topics
from correlator.kafka_connection import KafkaConnection
from correlator.notify import NotifySettings
from correlator.notify.consumer import NotifyStats, run_notifier
from correlator.stream.config import WorkerConfig
from correlator.stream.topics import topic_specs, topics_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stream"))
from test_notify_policy import scenario_events
from worker_harness import (
    ACME_TOPOLOGY,
    SCENARIOS,
    make_config,
    produce_settled,
    records,
    running,
)

pytestmark = pytest.mark.kafka


@dataclass
class Receiver:
    """A real HTTP server on a free local port that records what is posted to it and answers
    with the statuses queued in `answers` (then 200)."""

    answers: list[int] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    url: str = ""
    gate: asyncio.Event | None = None
    """When set, every request waits for it: a receiver that does not answer."""

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.gate is not None:
            await self.gate.wait()
        payload = orjson.loads(await request.read())
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.posts.append(payload)
        headers = {"Retry-After": "0"} if status == 429 else {}
        return web.Response(status=status, text="ok" if status == 200 else "no", headers=headers)


@asynccontextmanager
async def receiver(answers: list[int] | None = None) -> AsyncIterator[Receiver]:
    got = Receiver(answers=list(answers or []))
    app = web.Application()
    app.router.add_post("/hook", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    got.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield got
    finally:
        await runner.cleanup()


async def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(what)
        await asyncio.sleep(0.05)


async def _produce(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topic, orjson.dumps(event), key=event["incident"]["id"].encode()
            )
    finally:
        await producer.stop()


@asynccontextmanager
async def notifier(
    bootstrap: str, settings: NotifySettings
) -> AsyncIterator[tuple[str, asyncio.Task[NotifyStats]]]:
    config = WorkerConfig(
        kafka=KafkaConnection(bootstrap), topic_prefix=f"n{uuid.uuid4().hex[:8]}."
    )
    await ensure_topics(KafkaConnection(bootstrap), topic_specs(config))
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        run_notifier(
            config.kafka,
            config.topic_prefix,
            settings,
            group=f"{config.topic_prefix}notify",
            stop_event=stop,
            ready=ready,
            poll_ms=100,
        )
    )
    await asyncio.wait_for(ready.wait(), 30)
    try:
        yield topics_for(config).events, task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_chosen_severities_json_and_slack_after_retries(kafka_broker: KafkaBroker) -> None:
    events = scenario_events()
    planned = scenario_events()
    for event in planned:  # the same outage under a maintenance window: another incident id
        event["incident"] = {**event["incident"], "id": "inc-planned", "planned": True}
    async with receiver([503, 429]) as plain, receiver() as slack:
        settings = NotifySettings(
            urls=(plain.url,), severities=frozenset({"SEV1", "SEV2"}), backoff=0.05
        )
        slack_settings = NotifySettings(urls=(slack.url,), format="slack", backoff=0.05)
        async with (
            notifier(kafka_broker.bootstrap, settings) as (topic, task),
            notifier(kafka_broker.bootstrap, slack_settings) as (slack_topic, _),
        ):
            await _produce(kafka_broker.bootstrap, topic, [*planned, *events, events[0]])
            await _produce(kafka_broker.bootstrap, slack_topic, events)
            await wait_until(lambda: len(plain.posts) == 3, 30, f"posts: {plain.posts}")
            await wait_until(lambda: len(slack.posts) == 3, 30, f"slack: {slack.posts}")
        stats = task.result()
    # Opened (SEV1), the drop to SEV4, resolved; the planned twin and the duplicate: nothing.
    assert plain.posts == [events[0], events[3], events[5]]
    assert plain.attempts == 5  # the first post was answered 503, then 429, then delivered
    assert stats.urls[plain.url].retries == 2 and stats.urls[plain.url].failed == 0
    assert [p["text"].split(":", 2)[1] for p in slack.posts] == [
        "rotating_light",
        "arrow_right",
        "white_check_mark",
    ]
    assert slack.posts[1]["text"].startswith(":arrow_right: now SEV4: ")


async def test_a_receiver_that_keeps_failing_is_given_up(kafka_broker: KafkaBroker) -> None:
    events = scenario_events()
    async with receiver([500] * 3) as failing:
        settings = NotifySettings(urls=(failing.url,), attempts=3, backoff=0.05)
        async with notifier(kafka_broker.bootstrap, settings) as (topic, task):
            await _produce(kafka_broker.bootstrap, topic, events)
            # The first event is given up after 3 attempts; the later ones still arrive.
            await wait_until(lambda: len(failing.posts) == 2, 30, f"posts: {failing.posts}")
        stats = task.result()
    assert failing.posts == [events[3], events[5]]
    assert stats.urls[failing.url].failed == 1
    assert stats.notified == 3


async def test_worker_notifies_from_its_own_consumer(kafka_broker: KafkaBroker) -> None:
    lines = (SCENARIOS / "acme-shop-cart-shard-down.jsonl").read_bytes().splitlines()
    async with receiver() as hook:
        hook.gate = asyncio.Event()  # the receiver hangs until the stream is done
        config = make_config(
            kafka_broker.bootstrap,
            ACME_TOPOLOGY,
            notify=NotifySettings(urls=(hook.url,), severities=frozenset({"SEV1"}), timeout=120.0),
        )
        async with running(config) as app:
            await _notifier_assigned(config)
            await produce_settled(app, config, lines)
            # The stream published every event although the receiver has not answered once.
            published = await records(config, topics_for(config).events)
            assert [e["type"] for e in published][-1] == "incident.resolved"
            assert hook.attempts == 1 and hook.posts == []
            hook.gate.set()
            await wait_until(lambda: len(hook.posts) == 3, 30, f"posts: {hook.posts}")
    assert [(p["type"], p["incident"]["severity"]) for p in hook.posts] == [
        ("incident.opened", "SEV1"),
        ("incident.updated", "SEV4"),
        ("incident.resolved", "SEV4"),
    ]
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "correlator-notify"]


async def _notifier_assigned(config: WorkerConfig) -> None:
    """A new notifier group starts at the end of the topic: wait until it has committed that
    start, so the events produced next come after it."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka.bootstrap)
    await admin.start()
    group = f"{config.app_id}-notify"
    try:
        for _ in range(300):
            if await admin.list_consumer_group_offsets(group):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    raise AssertionError(f"the notifier group {group} never committed its start")
