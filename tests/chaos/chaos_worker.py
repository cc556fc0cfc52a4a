"""The parts of a chaos scenario: `correlator worker` as a real process, a sender that behaves
like Alertmanager (retries 5xx until accepted), and readers of what reached Kafka and the
history database."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from correlator.broker.process import free_port
from correlator.core.timefmt import format_time
from correlator.kafka_connection import KafkaConnection
from correlator.stream.config import WorkerConfig
from correlator.stream.kafka_io import read_to_end
from correlator.stream.topics import topics_for

ROOT = Path(__file__).resolve().parents[2]
ACME_TOPOLOGY = ROOT / "topologies" / "acme-shop.yaml"


async def wait_until(
    check: Callable[[], Awaitable[Any]], timeout: float, what: str, interval: float = 0.2
) -> Any:
    """Poll `check` until it returns something true; its last value is in the error."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} (within {timeout:.0f} s); last: {last!r}")


class WorkerProcess:
    """`correlator worker` with the webhook ingress and the history sink, in its own process."""

    def __init__(self, bootstrap: str, workdir: Path, *args: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = f"c{uuid.uuid4().hex[:6]}."
        self.port = free_port()
        self.db_path = workdir / "history.db"
        self.log_path = workdir / "worker.log"
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.config = WorkerConfig(kafka=KafkaConnection(bootstrap), topic_prefix=self.prefix)
        self.topics = topics_for(self.config)
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "CORRELATOR_BROKER": self.bootstrap,
            "CORRELATOR_PREFIX": self.prefix,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "correlator",
                "worker",
                "--topology",
                str(ACME_TOPOLOGY),
                "--partitions",
                "2",
                "--tick-interval",
                "1s",
                "--web-port",
                str(self.port),
                "--db",
                f"sqlite:///{self.db_path}",
                "--loglevel",
                "warning",
                *self.args,
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_bytes(self) -> int:
        """Resident memory of the worker process now (Linux)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    async def health(self, session: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
        async with session.get(f"{self.base}/health") as response:
            return response.status, await response.json()

    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float = 90) -> None:
        """Until `/health` is 200 with every stage's lag known."""

        async def ready() -> Any:
            if not self.running:
                raise AssertionError(f"the worker exited; log: {self.log_tail()}")
            try:
                status, doc = await self.health(session)
            except aiohttp.ClientError:
                return None
            return status == 200 and doc.get("stages") is not None

        await wait_until(ready, timeout, "the worker never became healthy", interval=0.5)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 30 s; the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def raw_numbers(self) -> list[int]:
        """The alert number `n` of every ingress envelope on `alerts.raw` (repeats included;
        records produced straight to the topic are left out)."""
        out = []
        for _, value in await read_to_end(self.config, self.topics.raw, timeout=60):
            doc = orjson.loads(value) if value is not None else None
            if isinstance(doc, dict) and "payload" in doc:
                out.extend(int(a["labels"]["n"]) for a in doc["payload"]["alerts"])
        return out

    async def events(self) -> list[dict[str, Any]]:
        return [
            orjson.loads(v)
            for _, v in await read_to_end(self.config, self.topics.events, timeout=60)
            if v is not None
        ]

    def history(self) -> list[tuple[str, int, str]]:
        """(incident id, seq, type) of every event in the history database."""
        with sqlite3.connect(self.db_path) as db:
            rows = db.execute("SELECT incident_id, seq, type FROM incident_event").fetchall()
        return sorted((str(i), int(s), str(t)) for i, s, t in rows)


def alert_payload(n: int, component: str, padding: str = "") -> bytes:
    """An Alertmanager webhook with one firing warning, distinct per `n`, about `component`
    (`padding` makes the body as large as wanted)."""
    now = format_time(int(time.time() * 1000))
    alert = {
        "status": "firing",
        "labels": {"alertname": "ChaosProbe", "component": component, "severity": "warning"}
        | {"n": str(n)},
        "annotations": {"summary": f"chaos alert {n}"},
        "startsAt": now,
        "endsAt": "0001-01-01T00:00:00Z",
    }
    # Padding rides in the group's common annotations, which the adapter does not copy into
    # the alert: a large body for the ingress, a small alert for the stages.
    common = {"description": padding} if padding else {}
    body = {"version": "4", "status": "firing", "alerts": [alert], "commonAnnotations": common}
    return orjson.dumps(body)


@dataclass
class Sender:
    """Posts alerts like Alertmanager does: a refused (5xx) or failed post is sent again after
    `retry_s` until it is accepted (202). Records every answer."""

    session: aiohttp.ClientSession
    url: str
    retry_s: float = 0.5
    accepted: dict[int, float] = field(default_factory=dict)
    """Alert number → when its 202 came (monotonic)."""
    statuses: Counter[str] = field(default_factory=Counter)
    missing_retry_after: int = 0
    """503 answers without a `Retry-After` header (must stay 0)."""
    launched: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def launch(self, component: str, padding: str = "") -> asyncio.Task[None]:
        """Start delivering the next alert (numbered `launched`); the task delivering it."""
        self.launched += 1
        n = self.launched
        task = asyncio.create_task(self.deliver(n, alert_payload(n, component, padding)))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def deliver(self, n: int, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        while True:
            try:
                async with self.session.post(self.url, data=body, headers=headers) as response:
                    await response.read()
                    status = response.status
                    if status == 503 and "Retry-After" not in response.headers:
                        self.missing_retry_after += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = 0
                self.statuses[type(exc).__name__] += 1
            if status:
                self.statuses[str(status)] += 1
            if status == 202:
                self.accepted[n] = time.monotonic()
                return
            await asyncio.sleep(self.retry_s)

    async def drain(self, timeout: float) -> None:
        """Until every launched alert was accepted."""
        if self.tasks:
            await asyncio.wait_for(asyncio.gather(*self.tasks), timeout)


def duplicates(numbers: list[int]) -> int:
    """How many records repeat an alert already there."""
    return len(numbers) - len(set(numbers))


def event_checks(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per incident: one `incident.opened`, `seq` 1..n without gaps, records with the same
    (id, seq) identical. Returns the figures; `ok` says whether all hold."""
    by_key: dict[tuple[str, int], list[bytes]] = {}
    for event in events:
        key = (event["incident"]["id"], event["seq"])
        by_key.setdefault(key, []).append(orjson.dumps(event, option=orjson.OPT_SORT_KEYS))
    seqs: dict[str, set[int]] = {}
    for incident, seq in by_key:
        seqs.setdefault(incident, set()).add(seq)
    gaps = sum(1 for got in seqs.values() if got != set(range(1, max(got) + 1)))
    opened = Counter(e["incident"]["id"] for e in events if e["type"] == "incident.opened")
    repeated = sum(len(v) - 1 for v in by_key.values())
    differing = sum(1 for v in by_key.values() if len(set(v)) > 1)
    return {
        "incidents": len(seqs),
        "events": len(by_key),
        "repeated_records": repeated,
        "differing_repeats": differing,
        "seq_gaps": gaps,
        "opened_twice": sum(1 for c in opened.values() if c > 1),
        "ok": gaps == 0 and differing == 0 and all(c == 1 for c in opened.values()),
    }
