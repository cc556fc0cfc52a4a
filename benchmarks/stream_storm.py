"""A 1,000-component outage through Kafka: how soon `impact.summary` shows the final figure.

A `correlator worker` (its own process, as in production) runs on a 10,000-component synthetic
topology against a local Apache Kafka broker. 1,000 distinct components fail at once: one
canonical alert each, produced to `alerts.raw` as fast as the producer goes. The figure is the
time from the last alert acknowledged by Kafka to the first `impact.summary` record whose
`customers_affected` equals the final figure, which `correlator replay` of the same alerts
computes offline (the baseline of the same run: the core alone, no Kafka). The worker's peak
RSS is read from /proc.

    python -m benchmarks stream_storm            # 3 runs
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import orjson
import yaml

from correlator.broker import KafkaBroker
from correlator.synthetic import generate_topology

COMPONENTS = 10_000
FAILING = 1_000
RUNS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _alerts(components: list[str], seed: int) -> list[bytes]:
    """One firing canonical alert per failing component, all at the same event time."""
    rng = random.Random(seed)
    now = datetime.datetime.now(datetime.UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return [
        orjson.dumps(
            {
                "fingerprint": f"outage-{c}",
                "status": "firing",
                "severity": "critical" if rng.random() < 0.7 else "warning",
                "labels": {"alertname": "Outage", "component": c},
                "summary": f"{c} is failing",
                "starts_at": stamp,
                "source": "canonical",
            }
        )
        for c in rng.sample(components, FAILING)
    ]


def _expected(topology: Path, alerts: list[bytes], directory: Path) -> tuple[int, float]:
    """The final customers affected, from `correlator replay --summary` (and its seconds)."""
    path = directory / "outage.jsonl"
    path.write_bytes(b"\n".join(alerts) + b"\n")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "correlator", "replay", "--summary", "-t", str(topology), str(path)],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - start
    return int(json.loads(done.stdout)["customers_affected"]), seconds


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _wait_ready(port: int, worker: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker ended with status {worker.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if json.loads(r.read()).get("consumer_lag", {}).get("total") is not None:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.25)
    raise RuntimeError("the worker was not ready in time")


async def _run(bootstrap: str, prefix: str, alerts: list[bytes], expected: int) -> float:
    """Produce the outage; seconds from the last acknowledgement to the final summary."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(
        f"{prefix}impact.summary",
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        await asyncio.sleep(1.0)  # the consumer has its position before anything is sent
        futures = [await producer.send(f"{prefix}alerts.raw", a) for a in alerts]
        await asyncio.gather(*futures)
        last_sent = time.perf_counter()
        deadline = last_sent + 600
        while time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                for m in messages:
                    if m.value and orjson.loads(m.value).get("customers_affected") == expected:
                        return time.perf_counter() - last_sent
        raise RuntimeError("the final figure never showed on impact.summary")
    finally:
        await producer.stop()
        await consumer.stop()


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="correlator-stream-storm-"))
    topology = directory / "topology.yaml"
    document = generate_topology(COMPONENTS, seed=1)
    topology.write_text(yaml.safe_dump(document, sort_keys=False))
    components = [c["id"] for c in document["components"]]
    broker = KafkaBroker().start()
    print(f"machine: {os.cpu_count()} cores; topology {COMPONENTS:,} components; {FAILING:,} fail")
    try:
        for run in range(RUNS):
            alerts = _alerts(components, seed=run)
            expected, replay_s = _expected(topology, alerts, directory)
            prefix = f"storm{uuid.uuid4().hex[:6]}."
            port = _free_port()
            log = (directory / f"worker-{run}.log").open("wb")
            command = [sys.executable, "-m", "correlator", "worker", "--broker", broker.bootstrap]
            command += ["--prefix", prefix, "--topology", str(topology), "--web-port", str(port)]
            command += ["--partitions", "2", "--loglevel", "warning"]
            worker = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_ready(port, worker)
                seconds = asyncio.run(_run(broker.bootstrap, prefix, alerts, expected))
                rss = _peak_rss_mib(worker.pid)
            finally:
                worker.terminate()
                worker.wait(30)
                log.close()
            print(
                f"run {run + 1}: final figure ({expected:,} customers affected) on impact.summary "
                f"{seconds:.2f} s after the last alert; worker peak RSS {rss:,.0f} MiB; "
                f"baseline: replay of the same alerts {replay_s:.2f} s (load included)"
            )
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
