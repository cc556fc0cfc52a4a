"""Process plumbing shared by the brokers: free ports, readiness, log tails, clean shutdown."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TypeVar

from correlator.errors import BrokerError
from correlator.kafka_connection import KafkaConnection

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is running here.

    Inside a running loop (an async test, a Textual app) `asyncio.run` is not allowed, so the
    coroutine gets its own loop in a worker thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


async def metadata_ready(bootstrap: str, timeout: float = 5.0) -> bool:
    """Whether the broker answers a metadata request and lists at least one live broker.

    Only for the local brokers started here, whose `bootstrap` listener is PLAINTEXT by
    construction: every other client is built from a `KafkaConnection`.
    """
    from correlator.kafka_connection import KafkaConnection

    admin = KafkaConnection(bootstrap).admin(request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout)
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def log_tail(path: Path) -> str:
    """The most telling line at the end of a broker log: its first error, else its last line.

    Kafka logs the root cause first and then the errors it led to; the exception message on the
    line after an ERROR (say "Address already in use") is appended.
    """
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "(no log written)"
    lines = [line.rstrip() for line in lines if line.strip()]
    if not lines:
        return "(log is empty)"
    for index, line in enumerate(lines):
        if any(marker in line for marker in (" ERROR ", " FATAL ", "panicked")):
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            if following and not following.startswith(("[", "at ")):
                line = f"{line.strip()}: {following}"
            return _shorten(line.strip())
    return _shorten(lines[-1].strip())


def _shorten(line: str, limit: int = 300) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


def wait_ready(
    process: subprocess.Popen[bytes],
    port: int,
    bootstrap: str,
    timeout: float,
    describe_failure: Callable[[str], BrokerError],
) -> None:
    """Wait until the TCP port accepts connections and a metadata request succeeds.

    Raises the error `describe_failure(reason)` builds if the process exits or time runs out.
    """
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if process.poll() is not None:
            raise describe_failure(f"exited with status {process.returncode} during start")
        if time.monotonic() > deadline:
            raise describe_failure(f"did not open port {port} within {timeout:.0f}s")
        time.sleep(0.2)
    while not run_coroutine(lambda: metadata_ready(bootstrap)):
        if process.poll() is not None:
            raise describe_failure(f"exited with status {process.returncode} during start")
        if time.monotonic() > deadline:
            raise describe_failure(f"answered no metadata request within {timeout:.0f}s")
        time.sleep(0.3)


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to SIGTERM the child when this process dies, else None.

    Without it a broker outlives a test run killed with SIGKILL. The kernel ties the signal to
    the thread that forked, so it is only used when that thread is the main one.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


def terminate(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM the process, wait up to `grace` seconds, then SIGKILL it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(timeout=10)


class LocalBroker:
    """What both local brokers share: data dir, port, log, readiness errors, clean stop.

    With no `data_dir` a temporary one is made on start and removed on stop.
    """

    kind: str = ""
    label = "broker"
    """How errors name it ("kafka broker", "tansu broker")."""
    log_name = "broker.log"
    stop_grace = 20.0

    def __init__(
        self, data_dir: Path | None = None, *, port: int | None = None, start_timeout: float
    ) -> None:
        self._given_dir = data_dir
        self._requested_port = port
        self.start_timeout = start_timeout
        self.data_dir: Path | None = data_dir
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """`127.0.0.1:PORT`, once started."""
        if self.port is None:
            raise BrokerError(f"the {self.label} is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def connection(self) -> KafkaConnection:
        """How to reach it: its PLAINTEXT listener (local brokers are PLAINTEXT by construction)."""
        return KafkaConnection(self.bootstrap)

    @property
    def log_file(self) -> Path | None:
        """The broker's log, where to look when something goes wrong."""
        return None if self.data_dir is None else self.data_dir / "logs" / self.log_name

    def _make_data_dir(self) -> Path:
        if self._given_dir is not None:
            self.data_dir = self._given_dir.expanduser().resolve()
            self.data_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.data_dir = Path(tempfile.mkdtemp(prefix=f"correlator-{self.kind}-"))
        return self.data_dir

    def _failure(self, reason: str) -> BrokerError:
        log = self.log_file
        assert log is not None
        return BrokerError(f"{self.label} {reason}: {log_tail(log)} (log: {log})")

    def stop(self) -> None:
        """SIGTERM the broker, wait for its clean shutdown (then SIGKILL), drop a temp data dir."""
        if self._process is not None:
            terminate(self._process, grace=self.stop_grace)
            self._process = None
        self._close_output()
        if self._given_dir is None and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
        self.port = None

    def _kill(self) -> None:
        """Stop a process that failed to start, keeping the data dir and its log."""
        if self._process is not None:
            terminate(self._process, grace=5.0)
            self._process = None
        self._close_output()

    def _close_output(self) -> None:
        if self._output is not None:
            with contextlib.suppress(OSError):
                self._output.close()
            self._output = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def start(self) -> Self:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
