"""The webhook ingress under more load than it can take: `python -m benchmarks overload`.

A local Kafka broker and `correlator worker --web-port` in its own process (default limits:
256 requests, 64 MiB in flight). Closed-loop senders post single-alert Alertmanager payloads
for a few seconds per step, at concurrency 1, 4, 16, 64, 256 and 1,024, each retrying nothing:
every answer is counted. Per step: accepted (202) and refused (503) per second, latency of the
202s, the worker's resident memory, the largest stage lag `/health` reported. Baseline of the
same run: the accepted rate with one sender; figures are ratios to it. Three runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from correlator.broker import KafkaBroker
from correlator.broker.process import free_port
from correlator.core.timefmt import format_time

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "topologies" / "acme-shop.yaml"
CONCURRENCY = (1, 4, 16, 64, 256, 1024)
STEP_S = 5.0
RUNS = 3


def _payload(n: int) -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": "Load", "component": f"cart-db-{n % 4}", "n": str(n % 2000)},
        "annotations": {"summary": "load"},
        "startsAt": format_time(int(time.time() * 1000)),
    }
    return orjson.dumps({"version": "4", "status": "firing", "alerts": [alert]})


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _step(
    session: aiohttp.ClientSession, base: str, pid: int, concurrency: int
) -> dict[str, Any]:
    accepted = refused = other = 0
    latencies: list[float] = []
    end = time.monotonic() + STEP_S
    counter = 0

    async def sender() -> None:
        nonlocal accepted, refused, other, counter
        while time.monotonic() < end:
            counter += 1
            started = time.monotonic()
            try:
                async with session.post(f"{base}/ingest/alertmanager", data=_payload(counter)) as r:
                    await r.read()
                    status = r.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            if status == 202:
                accepted += 1
                latencies.append(time.monotonic() - started)
            elif status == 503:
                refused += 1
                await asyncio.sleep(0.05)  # a sender honouring Retry-After would wait longer
            else:
                other += 1

    peak_rss = _rss(pid)
    peak_lag = 0

    async def sample() -> None:
        nonlocal peak_rss, peak_lag
        while True:
            peak_rss = max(peak_rss, _rss(pid))
            try:
                async with session.get(f"{base}/health") as r:
                    stages = (await r.json()).get("stages") or {}
                peak_lag = max([peak_lag, *(s["lag"] for s in stages.values())])
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    sampler.cancel()
    await asyncio.gather(sampler, return_exceptions=True)
    latencies.sort()
    return {
        "concurrency": concurrency,
        "accepted_per_s": accepted / elapsed,
        "refused_per_s": refused / elapsed,
        "other": other,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else None,
        "rss_mib": peak_rss / 2**20,
        "max_stage_lag": peak_lag,
    }


async def _run(bootstrap: str, workdir: Path) -> list[dict[str, Any]]:
    port = free_port()
    env = {
        **os.environ,
        "CORRELATOR_BROKER": bootstrap,
        "CORRELATOR_PREFIX": f"b{uuid.uuid4().hex[:6]}.",
    }
    log = (workdir / "worker.log").open("ab")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "correlator", "worker", "--topology", str(TOPOLOGY)),
            *("--partitions", "2", "--web-port", str(port)),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            deadline = time.monotonic() + 90
            while True:
                try:
                    async with session.get(f"{base}/health") as r:
                        if r.status == 200 and (await r.json()).get("stages") is not None:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the worker did not start; see {workdir / 'worker.log'}")
                await asyncio.sleep(0.5)
            return [await _step(session, base, process.pid, c) for c in CONCURRENCY]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _print(run: int, steps: list[dict[str, Any]]) -> None:
    baseline = steps[0]["accepted_per_s"] or 1.0
    print(f"run {run}: baseline (1 sender) {baseline:,.0f} accepted/s")
    print(
        f"  {'senders':>7} {'accepted/s':>10} {'x base':>6} {'503/s':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'RSS MiB':>7} {'lag':>6}"
    )
    for s in steps:
        p50 = "-" if s["p50_ms"] is None else f"{s['p50_ms']:.1f}"
        p99 = "-" if s["p99_ms"] is None else f"{s['p99_ms']:.1f}"
        print(
            f"  {s['concurrency']:>7} {s['accepted_per_s']:>10,.0f} "
            f"{s['accepted_per_s'] / baseline:>6.2f} {s['refused_per_s']:>8,.0f} {p50:>7} "
            f"{p99:>7} {s['rss_mib']:>7.0f} {s['max_stage_lag']:>6}"
        )
    best = max(steps, key=lambda s: s["accepted_per_s"])
    pushing = [s["concurrency"] for s in steps if s["refused_per_s"] > 0]
    print(
        f"  most accepted: {best['accepted_per_s']:,.0f}/s at {best['concurrency']} senders "
        f"({best['accepted_per_s'] / baseline:.2f}x baseline); 503 from "
        f"{pushing[0] if pushing else 'never'} senders on",
        flush=True,
    )


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="correlator-overload-"))
    broker = KafkaBroker(workdir / "kafka")
    broker.start()
    try:
        for run in range(1, RUNS + 1):
            _print(run, asyncio.run(_run(broker.bootstrap, workdir)))
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
