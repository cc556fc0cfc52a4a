"""The notifier: its own Kafka consumer on `<prefix>incident.events`, posting to webhooks.

It reads in its own consumer group, so a slow or dead receiver only delays notifications, never
the stream. A new group starts at the end of the topic (no page for last week's incidents);
afterwards offsets are committed once a batch's posts are done (delivered, or given up after
the retries), so a restart redelivers at most one batch, and the policy drops the duplicates it
still remembers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from correlator.errors import BrokerError
from correlator.kafka_connection import KafkaConnection, failure_reason
from correlator.notify.messages import body
from correlator.notify.policy import NotifyPolicy
from correlator.notify.sender import DeliveryStats, RateLimiter, Webhook
from correlator.notify.settings import NotifySettings
from correlator.records import TOPIC_INCIDENT_EVENTS

log = logging.getLogger("correlator.notify")


@dataclass(slots=True)
class NotifyStats:
    """Events read, events notified (posted to every URL, or given up), and per-URL figures."""

    events: int = 0
    notified: int = 0
    invalid: int = 0
    urls: dict[str, DeliveryStats] = field(default_factory=dict)


async def run_notifier(
    kafka: KafkaConnection,
    prefix: str,
    settings: NotifySettings,
    *,
    group: str,
    stop_event: asyncio.Event,
    ready: asyncio.Event | None = None,
    poll_ms: int = 500,
    stats: NotifyStats | None = None,
) -> NotifyStats:
    """Post the incident events `settings` selects until `stop_event` is set. `ready` is set
    once the consumer has its partitions and has committed where it starts. Raises
    `BrokerError` when the broker cannot be reached at start."""
    from aiokafka.errors import CommitFailedError, KafkaError

    topic = f"{prefix}{TOPIC_INCIDENT_EVENTS}"
    consumer = kafka.consumer(
        topic,
        group_id=group,
        client_id="correlator-notify",
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    policy = NotifyPolicy(settings.severities)
    stats = stats if stats is not None else NotifyStats()
    timeout = aiohttp.ClientTimeout(total=settings.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        hooks = [
            Webhook(
                url,
                session,
                RateLimiter(settings.rate, settings.burst),
                attempts=settings.attempts,
                backoff=settings.backoff,
                stop_event=stop_event,
            )
            for url in settings.urls
        ]
        for hook in hooks:  # a restarted notifier goes on counting where it left off
            hook.stats = stats.urls.setdefault(hook.url, hook.stats)
        positioned: set[Any] = set()
        try:
            try:
                await consumer.start()
            except KafkaError as exc:
                reason = await failure_reason(kafka, exc)
                raise BrokerError(
                    f"notifier cannot reach the broker at {kafka.describe()}: {reason}"
                ) from None
            log.info("notify: %s → %d webhook(s), %s", topic, len(hooks), settings.format)
            while not stop_event.is_set():
                batches = await consumer.getmany(timeout_ms=poll_ms, max_records=100)
                new = consumer.assignment() - positioned
                if new:
                    # Keep where a new group starts ("latest"), so a restart before the first
                    # notification does not jump over what happened in between.
                    start = {
                        tp: batches[tp][0].offset
                        if batches.get(tp)
                        else await consumer.position(tp)
                        for tp in new
                    }
                    await consumer.commit(start)
                    positioned |= new
                    if ready is not None:
                        ready.set()
                if not batches:
                    continue
                for tp in sorted(batches):
                    for message in batches[tp]:
                        await _handle(message.value, policy, settings, hooks, stats)
                if stop_event.is_set():
                    break  # posts may have been cut short: leave the batch to be redelivered
                offsets = {tp: msgs[-1].offset + 1 for tp, msgs in batches.items() if msgs}
                try:
                    await consumer.commit(offsets)
                except CommitFailedError as exc:  # a rebalance: the batch may come again
                    log.warning("notify: commit failed, the batch may be redelivered: %s", exc)
        finally:
            await consumer.stop()
    return stats


async def _handle(
    value: bytes | None,
    policy: NotifyPolicy,
    settings: NotifySettings,
    hooks: list[Webhook],
    stats: NotifyStats,
) -> None:
    if value is None:
        return
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        stats.invalid += 1
        return
    if not isinstance(event, dict):
        stats.invalid += 1
        return
    stats.events += 1
    if not policy.decide(event):
        return
    payload = body(event, settings.format)
    # Every URL at once: one slow receiver does not hold the others back for this event.
    await asyncio.gather(*(hook.post(payload) for hook in hooks))
    stats.notified += 1
