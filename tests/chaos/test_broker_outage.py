"""Broker outage: the broker stops for a while (30 s in the full version, 10 s short) and comes
back on the same port with the same data, while alerts keep arriving over the webhook ingress.

Nobody touches the worker. Checked: the ingress answers 503 with `Retry-After` while Kafka does
not acknowledge (and nothing but 202 and 503); every alert answered 202 reaches `alerts.raw`
and the incident (lost 0); no alert is written twice (duplicated 0); the incident's events have
one `incident.opened`, `seq` 1..n and identical repeats; the history database holds every
event; the worker never exits; the war room's Kafka feed reconnects by itself. Measured: time
from the broker's return to the first 202, and until the war room shows every alert sent
before it returned (the recovery time; goal ≤ 15 s).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from chaos_report import FULL, report
from chaos_worker import Sender, WorkerProcess, duplicates, event_checks, wait_until

from correlator.broker import KafkaBroker
from correlator.kafka_connection import KafkaConnection
from correlator.records import TOPIC_INCIDENTS
from tui.feeds import KafkaFeed

pytestmark = pytest.mark.kafka

OUTAGE_S = 30.0 if FULL else 10.0
RATE_S = 0.1
"""A new alert every 100 ms, before, during and after the outage."""
COMPONENTS = ("cart-db-0", "cart-db-1", "cart-db-2", "cart-db-3")


class WarRoomView:
    """The war room's Kafka feed, followed in a task: the largest alert count of an incident
    it has shown, when it first showed each count, and whether it lost and regained the link."""

    def __init__(self, feed: KafkaFeed) -> None:
        self.feed = feed
        self.shown_at: dict[int, float] = {}
        self.alert_count = 0
        self.disconnected = False
        self.reconnected = False

    async def follow(self) -> None:
        async for record in self.feed:
            if self.disconnected and self.feed.connected:
                self.reconnected = True
            value: Any = record.value
            if record.topic == TOPIC_INCIDENTS and isinstance(value, dict):
                count = int(value.get("alert_count", 0))
                if count > self.alert_count:
                    now = time.monotonic()
                    for c in range(self.alert_count + 1, count + 1):
                        self.shown_at.setdefault(c, now)
                    self.alert_count = count

    async def watch_link(self) -> None:
        while True:
            if not self.feed.connected:
                self.disconnected = True
            elif self.disconnected:
                self.reconnected = True
            await asyncio.sleep(0.1)


async def test_broker_outage(own_broker: KafkaBroker, tmp_path: Path) -> None:
    broker = own_broker
    worker = WorkerProcess(broker.bootstrap, tmp_path)
    worker.start()
    timeout = aiohttp.ClientTimeout(total=30)
    view = WarRoomView(
        KafkaFeed(KafkaConnection(broker.bootstrap), worker.prefix)
    )  # the war room's defaults
    tasks: list[asyncio.Task[None]] = []
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await worker.wait_ready(session)
            sender = Sender(session, f"{worker.base}/ingest/alertmanager")
            tasks = [
                asyncio.create_task(view.follow()),
                asyncio.create_task(view.watch_link()),
            ]

            async def send_for(seconds: float) -> None:
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    sender.launch(COMPONENTS[sender.launched % len(COMPONENTS)])
                    await asyncio.sleep(RATE_S)

            # Before: steady traffic, and the war room shows it.
            await send_for(3.0)
            before = sender.launched
            await wait_until(
                lambda: _true(view.alert_count >= before), 60, "the war room never showed them"
            )
            # The broker goes away while alerts keep coming.
            sending = asyncio.create_task(send_for(OUTAGE_S + 3.0))
            stopped = time.monotonic()
            await asyncio.to_thread(broker.stop)
            # While it is away, a probe sees it: 503, the broker unreachable, no lag figures.
            status, health = await worker.health(session)
            assert status == 503, health
            assert {k: health[k] for k in ("status", "broker", "ingest_lag_seconds", "stages")} == {
                "status": "degraded",
                "broker": "unreachable",
                "ingest_lag_seconds": None,
                "stages": None,
            }, health
            assert health["consumer_lag"]["total"] is None and health["error"], health
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
            refused_during = sender.statuses["503"]
            await asyncio.to_thread(broker.start)  # same port and data dir
            back = time.monotonic()
            outage = back - stopped
            sent_before_return = sender.launched
            accepted_before_return = len(sender.accepted)
            await sending
            # After: everything launched is eventually accepted (Alertmanager keeps retrying).
            await sender.drain(timeout=120)
            total = sender.launched
            first_202 = min((t for t in sender.accepted.values() if t > back), default=None)
            await wait_until(
                lambda: _true(view.alert_count >= total),
                120,
                f"the war room never showed all {total} alerts",
            )
            shown = view.shown_at[sent_before_return]
            recovery = max(0.0, shown - back)
            status, health = await worker.health(session)
            assert status == 200, health
            assert worker.running, worker.log_tail()

            async def caught_up() -> Any:
                _, doc = await worker.health(session)
                stages = doc.get("stages") or {}
                done = stages and all(s["lag"] == 0 for s in stages.values())
                return done or _Unfinished(stages)

            await wait_until(caught_up, 60, "the stages never caught up")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await view.feed.close()
        code = worker.stop()
    assert code == 0, worker.log_tail()

    raw = await worker.raw_numbers()
    accepted = set(sender.accepted)
    lost = len(accepted - set(raw))
    duplicated = duplicates(raw)
    events = await worker.events()
    checks = event_checks(events)
    history = worker.history()
    in_history = len({(i, s) for i, s, _ in history})
    report(
        "broker-outage",
        outage_s=outage,
        posted=total,
        accepted=len(accepted),
        answers=dict(sender.statuses),
        refused_503_during_outage=refused_during,
        lost=lost,
        duplicated=duplicated,
        incident_events=checks["events"],
        event_repeats=checks["repeated_records"],
        history_events=in_history,
        first_202_after_s=None if first_202 is None else round(first_202 - back, 1),
        recovery_s=recovery,
        war_room_reconnected=view.reconnected,
    )
    assert set(sender.statuses) <= {"202", "503"}, sender.statuses
    assert refused_during > 0 and sender.missing_retry_after == 0
    assert accepted_before_return < sent_before_return  # some waited for the broker
    assert (len(accepted), lost, duplicated) == (total, 0, 0)
    assert sorted(raw) == list(range(1, total + 1))
    assert view.alert_count == total
    assert checks["ok"] and checks["incidents"] == 1, checks
    assert in_history == checks["events"]
    assert view.disconnected and view.reconnected


async def _true(value: bool) -> bool:
    return value


class _Unfinished(dict[str, Any]):
    """A false value that shows what was still behind."""

    def __bool__(self) -> bool:
        return False
