"""`correlator worker` as separate processes (to SIGKILL them), a paced producer, and a probe
that tells when processing has resumed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from correlator.core.timefmt import parse_time


@dataclass
class WorkerProcess:
    """One `correlator worker` process with its own working directory (Faust's data dir)."""

    bootstrap: str
    prefix: str
    topology: Path
    workdir: Path
    db_url: str | None = None
    instance_id: str | None = None
    session_timeout: str = "10s"
    partitions: int = 4
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = 0.0

    def start(self) -> WorkerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            sys.executable,
            "-m",
            "correlator",
            "worker",
            "--broker",
            self.bootstrap,
            "--prefix",
            self.prefix,
            "--topology",
            str(self.topology),
            "--partitions",
            str(self.partitions),
            "--tick-interval",
            "1s",
            "--session-timeout",
            self.session_timeout,
        ]
        if self.db_url is not None:
            args += ["--db", self.db_url]
        if self.instance_id is not None:
            args += ["--instance-id", self.instance_id]
        log = (self.workdir / "worker.log").open("ab")
        self.process = subprocess.Popen(
            args, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()
        )
        self.started_at = time.monotonic()
        return self

    def kill(self) -> float:
        """SIGKILL: no goodbye to the group, no commit, no flush. Returns the wall time."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        return time.monotonic()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


async def produce_paced(
    bootstrap: str, topic: str, lines: list[bytes], rate: float, sent: list[float]
) -> None:
    """Produce `lines` in order at `rate` per second, all with one key (one source, one
    partition: the order replay reads); `sent[i]` is when line i was acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    try:
        start = time.monotonic()
        for i, line in enumerate(lines):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await (await producer.send(topic, line, key=b"storm"))
            sent.append(time.monotonic())
    finally:
        await producer.stop()


class HealthProbe:
    """Follows `component.health` and remembers when each event time was first reached: when
    the stream had processed the alerts up to then."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.reached: list[tuple[int, float]] = []
        self._task: asyncio.Task[None] | None = None
        self._newest = -1

    async def __aenter__(self) -> HealthProbe:
        consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        self._task = asyncio.create_task(self._follow(consumer))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=100)
                now = time.monotonic()
                for messages in batches.values():
                    for m in messages:
                        if m.value is None:
                            continue
                        t = parse_time(orjson.loads(m.value)["as_of"])
                        if t > self._newest:
                            self._newest = t
                            self.reached.append((t, now))
        finally:
            await consumer.stop()

    def when_reached(self, t: int) -> float | None:
        """The wall time the stream first published health at event time `t` or later."""
        return next((wall for at, wall in self.reached if at >= t), None)
