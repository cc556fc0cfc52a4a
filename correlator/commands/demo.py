"""`correlator demo`: one command for the whole product on this machine.

Starts a local broker, a worker and the simulator (the `story` scenario: an incident at once,
then a rolling outage that escalates, merges, is acknowledged by a simulated teammate and
resolves) as child processes, waits until the worker reads its input, then opens the war room
on the same broker. The simulated teammate also declares a planned-work window, so the war
room's PLANNED WORK banner shows one (`demo_planned.py`).
Everything stops when the war room closes (or after `--duration`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

from correlator.broker import ensure_topics, start_broker
from correlator.errors import CorrelatorError, UsageError
from correlator.kafka_connection import KafkaConnection
from correlator.stream.config import WorkerConfig
from correlator.stream.topics import topic_specs
from correlator.topology_files import load_topology

DEFAULT_TOPOLOGY = Path("topologies") / "acme-shop.yaml"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="local broker, worker, simulated alert storms and the war room, in one command",
        description="Start a local Kafka broker, a correlator worker and the alert simulator, "
        "then open the war room on them. Quit the war room (q) to stop everything.",
    )
    parser.add_argument(
        "--topology", default=str(DEFAULT_TOPOLOGY), help="topology (default %(default)s)"
    )
    parser.add_argument(
        "--kind",
        choices=["kafka", "tansu", "auto"],
        default="auto",
        help="local broker to run (default: kafka when Java is present)",
    )
    parser.add_argument("--scenario", default="story", help="simulator scenario (default story)")
    parser.add_argument("--rate", type=float, default=20.0, help="alerts/s (default 20)")
    parser.add_argument(
        "--as",
        dest="user",
        default=os.environ.get("USER", "demo"),
        help="your name on acknowledgements",
    )
    parser.add_argument(
        "--duration",
        type=float,
        help="run headless for this many seconds, then print what the war room showed and "
        "exit (0 when it showed incidents): for scripts and tests",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    topology_path = Path(args.topology)
    load_topology(topology_path)  # a bad topology fails here, in one line
    workdir = Path(tempfile.mkdtemp(prefix="correlator-demo-"))
    # SIGTERM ends the demo like q or Ctrl-C: through the `finally` that stops the children and
    # the broker (Python's default would leave them running).
    signal.signal(signal.SIGTERM, _exit_on_signal)
    broker = start_broker(args.kind, None)
    children: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []
    try:
        print(f"broker ready at {broker.bootstrap}; logs and history in {workdir}", flush=True)
        # As the worker's `prepare` does, so the simulator never writes to a topic that is not
        # there yet (or gets it auto-created with the broker's defaults).
        asyncio.run(ensure_topics(broker.connection, topic_specs(WorkerConfig(broker.connection))))
        web_port = _free_port()
        base = [sys.executable, "-m", "correlator"]
        children.append(
            _spawn(
                [
                    *base,
                    "worker",
                    "--broker",
                    broker.bootstrap,
                    "--topology",
                    str(topology_path),
                    "--db",
                    f"sqlite:///{workdir / 'history.db'}",
                    "--web-port",
                    str(web_port),
                ],
                workdir / "worker.log",
            )
        )
        children.append(
            _spawn(
                [
                    *base,
                    "simulate",
                    "--topology",
                    str(topology_path),
                    "--broker",
                    broker.bootstrap,
                    "--rate",
                    str(args.rate),
                    "--scenario",
                    args.scenario,
                ],
                workdir / "simulate.log",
            )
        )
        # The simulator starts with the worker: the story's first alerts wait in `alerts.raw`
        # (the worker reads it from the earliest offset), so the first incident exists as soon
        # as the worker is up, and the war room opens only then.
        print("waiting for the worker to read its input…", flush=True)
        _wait_for_worker(web_port, children[0], workdir / "worker.log")
        ingress_url = f"http://127.0.0.1:{web_port}/ingest"
        _declare_planned_work(broker.connection, topology_path)
        print(
            f"worker and simulator started; history: correlator incidents list --db "
            f"sqlite:///{workdir / 'history.db'}\n"
            f"send your own alerts: curl -X POST {ingress_url} -d @alert.json "
            f"(also on the war room's help screen: press ?)",
            flush=True,
        )
        return _warroom(broker.connection, args.user, args.duration, children, ingress_url)
    finally:
        for process, log in reversed(children):
            _stop(process)
            log.close()
        broker.stop()


WORKER_READY_TIMEOUT = 120.0
TEAMMATE = "alex (simulated teammate)"
TEAMMATE_ACKS_AFTER_MS = 25_000
"""The simulated teammate acknowledges an incident left unacknowledged this long (event time),
so the story shows acknowledgements while leaving the responder time to press `a` first."""


def _wait_for_worker(
    port: int, worker: tuple[subprocess.Popen[bytes], IO[bytes]], log: Path
) -> None:
    """Until the worker's `GET /health` answers with its ingest partitions assigned: from then
    on an alert the simulator sends becomes an incident at once, not after the worker's start."""
    process, _ = worker
    deadline = time.monotonic() + WORKER_READY_TIMEOUT
    url = f"http://127.0.0.1:{port}/health"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UsageError(f"the worker ended with status {process.returncode}: see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                doc = json.loads(response.read())
            if doc.get("consumer_lag", {}).get("total") is not None:
                return
        except (OSError, ValueError):
            pass  # not listening yet, 503 while its producer starts, or no lag figures yet
        time.sleep(0.25)
    raise UsageError(f"the worker was not ready after {WORKER_READY_TIMEOUT:.0f} s: see {log}")


def _declare_planned_work(kafka: KafkaConnection, topology_path: Path) -> None:
    """The teammate's planned-work window (none when the topology has no component fit)."""
    from correlator.commands.demo_planned import planned_component, planned_window, wall_ms
    from correlator.stream.maintenance import publish_window

    component = planned_component(load_topology(topology_path))
    if component is None:
        return
    now = wall_ms()
    window = planned_window(component, TEAMMATE, now)
    asyncio.run(publish_window(WorkerConfig(kafka), window, now))
    print(f"{TEAMMATE} declared planned work on {component} ({window.id})", flush=True)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


CLUSTER_VARIABLES = (
    "CORRELATOR_BROKER",
    "CORRELATOR_PREFIX",
    "CORRELATOR_SECURITY_PROTOCOL",
    "CORRELATOR_SASL_MECHANISM",
    "CORRELATOR_SASL_USERNAME",
    "CORRELATOR_SASL_PASSWORD",
    "CORRELATOR_SSL_CAFILE",
)
"""Settings for a real cluster: the demo's children use its own local (PLAINTEXT) broker and
unprefixed topics, whatever the shell around it points at."""


def _spawn(command: list[str], log_path: Path) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    log = log_path.open("ab")
    env = {k: v for k, v in os.environ.items() if k not in CLUSTER_VARIABLES}
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
    )
    return process, log


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _warroom(
    kafka: KafkaConnection,
    user: str,
    duration: float | None,
    children: list[tuple[subprocess.Popen[bytes], IO[bytes]]],
    ingress_url: str,
) -> int:
    from tui.app import WarRoomApp, wall_clock
    from tui.feeds.kafka import KafkaFeed
    from tui.screens.help import IngressHint
    from tui.state import event_ms
    from tui.widgets.incident_table import IncidentTable

    # The worker inherits this environment, so its ingress wants a token exactly when it is set.
    token_env = "CORRELATOR_INGEST_TOKEN" if os.environ.get("CORRELATOR_INGEST_TOKEN") else None
    ingress = IngressHint(ingress_url, token_env)
    feed = KafkaFeed(kafka, "")
    app = WarRoomApp(feed, user=user, clock=wall_clock, ingress=ingress)
    acked: set[str] = set()

    async def teammate() -> None:
        """Acknowledge, as a teammate would, what has waited long enough."""
        for snapshot in app.state.open_incidents():
            incident_id = str(snapshot.get("id"))
            opened = event_ms(snapshot.get("opened_at"))
            if (
                snapshot.get("acknowledged_by")
                or incident_id in acked
                or incident_id in app.state.pending_acks
                or opened is None
                or app.state.latest_event_ms - opened < TEAMMATE_ACKS_AFTER_MS
            ):
                continue
            acked.add(incident_id)
            try:
                await feed.acknowledge(incident_id, TEAMMATE)
            except CorrelatorError:
                acked.discard(incident_id)  # the broker is away: try again later

    app.call_later(lambda: app.set_interval(2.0, teammate))

    if duration is None:
        app.run()
        return 0

    failed: list[str] = []
    seen: set[str] = set()  # incidents the war room showed open at some point of the run
    planned_seen: set[str] = set()  # planned incidents among them
    windows_seen: set[str] = set()  # planned-work windows the war room listed
    peak = 0
    first_shown: float | None = None

    async def autopilot(pilot: Any) -> None:
        nonlocal peak, first_shown
        opened = time.monotonic()
        deadline = opened + duration
        while time.monotonic() < deadline and not failed:
            tables = pilot.app.screen.query(IncidentTable)
            if first_shown is None and tables and tables.first().row_count:
                first_shown = time.monotonic() - opened
            for process, log in children:
                if process.poll() is not None:
                    failed.append(f"{log.name} ended with status {process.returncode}: see it")
            # Storm episodes open and resolve within seconds: count what was shown during the
            # run, not only what happens to be open when it ends.
            seen.update(s["id"] for s in pilot.app.state.open_incidents())
            planned_seen.update(
                s["id"] for s in pilot.app.state.open_incidents() if s.get("planned") is True
            )
            windows_seen.update(
                str(w.get("id")) for _, w in pilot.app.state.maintenance_windows(pilot.app.now_ms())
            )
            peak = max(peak, int((pilot.app.state.summary or {}).get("customers_affected", 0)))
            await asyncio.sleep(0.1)
        pilot.app.exit()

    app.run(headless=True, auto_pilot=autopilot)
    if failed:
        raise UsageError(failed[0])
    seen.update(s["id"] for s in app.state.open_incidents())
    first = "never" if first_shown is None else f"{first_shown:.1f} s after it opened"
    print(
        f"war room showed {len(seen)} open incidents "
        f"({len(app.state.open_incidents())} open at the end), "
        f"{peak:,} customers affected at the peak; first incident on screen {first}; "
        f"planned work: {len(windows_seen)} window(s), {len(planned_seen)} planned incident(s)",
        flush=True,
    )
    return 0 if seen else 1
