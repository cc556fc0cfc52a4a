"""`correlator worker --notify …`: bad notification flags are one line and exit 2, before any
connection is tried."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bad_notify_flags() -> None:
    cases = {
        "--notify ftp://hooks.example/x": "--notify: not an http(s) URL: 'ftp://hooks.example/x'",
        "--notify https://hooks.example/x --notify-severity SEV1,SEV9": "'SEV9' is not one of",
        "--notify https://hooks.example/x --notify-rate 0": "--notify-rate: must be > 0",
    }
    for flags, message in cases.items():
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "correlator",
                "worker",
                "--broker",
                "127.0.0.1:1",
                "--topology",
                "topologies/acme-shop.yaml",
                *flags.split(),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert done.returncode == 2, (flags, done.stderr)
        assert done.stderr.count("\n") == 1 and message in done.stderr, (flags, done.stderr)
