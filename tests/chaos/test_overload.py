"""Overload: far more senders than the ingress may hold at once, with large bodies, while a
backlog of raw alerts sits on `alerts.raw`.

Checked: the ingress pushes back — 503 with `Retry-After` at once — instead of holding more
than its limits (sampled from `/health`: in-flight requests and bytes never above them); every
alert answered 202 reaches `alerts.raw` once (lost 0, duplicated 0); `/health` reports the
backlog as lag (ingest lag above 0 while it is there, every stage at 0 once it is processed);
the worker keeps running. Reported: answers, peak in-flight, worker memory before and at peak,
time to work off the backlog. The rate at which pushback starts is `python -m benchmarks
overload`'s job (figures, not assertions).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from chaos_report import FULL, report
from chaos_worker import Sender, WorkerProcess, duplicates, wait_until

from correlator.broker import KafkaBroker
from correlator.core.timefmt import format_time
from correlator.stream.kafka_io import new_producer

pytestmark = pytest.mark.kafka

MAX_REQUESTS = 8
MAX_BYTES = 1_048_576
SENDERS = 128 if FULL else 48
FLOOD_S = 30.0 if FULL else 8.0
PADDING = 200_000
"""Bytes of annotation per alert: five bodies fill the byte limit."""
BACKLOG = 200_000 if FULL else 30_000
"""Raw single-alert payloads produced straight to `alerts.raw` (a backlog, as after an outage)."""


def backlog_payload(i: int) -> bytes:
    now = format_time(int(time.time() * 1000))
    labels = {"alertname": "Backlog", "component": f"redis-cart-{'ab'[i % 2]}", "i": str(i % 500)}
    alert = {"status": "firing", "labels": labels, "startsAt": now}
    return orjson.dumps({"status": "firing", "alerts": [alert]})


async def produce_backlog(worker: WorkerProcess, count: int) -> None:
    producer = new_producer(worker.config, linger_ms=20, max_batch_size=1_048_576)
    await producer.start()
    try:
        futures = [await producer.send(worker.topics.raw, backlog_payload(i)) for i in range(count)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_overload(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    worker = WorkerProcess(
        kafka_broker.bootstrap,
        tmp_path,
        "--ingress-max-requests",
        str(MAX_REQUESTS),
        "--ingress-max-bytes",
        str(MAX_BYTES),
    )
    worker.start()
    samples: list[dict[str, Any]] = []
    rss: list[int] = []
    try:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60), connector=aiohttp.TCPConnector(limit=0)
        ) as session:
            await worker.wait_ready(session)
            rss_start = worker.rss_bytes()

            async def sample() -> None:
                while True:
                    _, doc = await worker.health(session)
                    samples.append(doc)
                    rss.append(worker.rss_bytes())
                    await asyncio.sleep(0.2)

            sampler = asyncio.create_task(sample())
            await produce_backlog(worker, BACKLOG)
            produced = time.monotonic()
            sender = Sender(session, f"{worker.base}/ingest/alertmanager", retry_s=0.2)
            padding = "x" * PADDING

            async def flood(index: int) -> None:
                end = time.monotonic() + FLOOD_S
                while time.monotonic() < end:
                    await sender.launch(f"cart-db-{index % 4}", padding)

            await asyncio.gather(*(flood(i) for i in range(SENDERS)))
            await sender.drain(timeout=60)

            async def caught_up() -> Any:
                _, doc = await worker.health(session)
                stages = doc.get("stages") or {}
                done = stages and all(s["lag"] == 0 for s in stages.values())
                return done or _Unfinished(stages)

            await wait_until(caught_up, 180, "the stages never caught up", interval=0.5)
            worked_off = time.monotonic() - produced
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            assert worker.running, worker.log_tail()
    finally:
        code = worker.stop()
    assert code == 0, worker.log_tail()

    raw = await worker.raw_numbers()
    accepted = set(sender.accepted)
    lost = len(accepted - set(raw))
    duplicated = duplicates(raw)
    peak_requests = max(s["ingress"]["in_flight"]["requests"] for s in samples)
    peak_bytes = max(s["ingress"]["in_flight"]["bytes"] for s in samples)
    refused_busy = max(s["ingress"]["refused"]["busy"] for s in samples)
    ingest_lags = [s["stages"]["ingest"]["lag"] for s in samples if s.get("stages")]
    report(
        "overload",
        senders=SENDERS,
        flood_s=FLOOD_S,
        limits=f"{MAX_REQUESTS} requests/{MAX_BYTES} bytes",
        posted=sender.launched,
        accepted=len(accepted),
        answers=dict(sender.statuses),
        refused_busy=refused_busy,
        peak_in_flight=f"{peak_requests} requests/{peak_bytes} bytes",
        lost=lost,
        duplicated=duplicated,
        backlog=BACKLOG,
        max_ingest_lag=max(ingest_lags, default=None),
        backlog_worked_off_s=worked_off,
        rss_mib=f"{rss_start / 2**20:.0f} -> peak {max(rss, default=0) / 2**20:.0f}",
    )
    assert set(sender.statuses) <= {"202", "503"}, sender.statuses
    assert sender.statuses["503"] > 0 and refused_busy > 0 and sender.missing_retry_after == 0
    assert peak_requests <= MAX_REQUESTS and peak_bytes <= MAX_BYTES
    assert (len(accepted), lost, duplicated) == (sender.launched, 0, 0)
    assert max(ingest_lags) > 0  # the backlog was visible as lag …
    assert ingest_lags[-1] == 0  # … and gone once processed


class _Unfinished(dict[str, Any]):
    """A false value that shows what was still behind."""

    def __bool__(self) -> bool:
        return False
