"""`correlator demo` opens the war room: a local broker, the worker, the simulator and the war
room (headless, `--duration`), which must show open incidents; the printed ingest URL takes a
POST while it runs; the worker's log holds no noise."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALERT = (ROOT / "tests" / "adapters" / "fixtures" / "alertmanager-1.json").read_bytes()


def _post(url: str, deadline: float) -> int:
    """POST the fixture until the worker accepts it: its web server starts after the broker,
    and answers 503 until its Kafka producer is up."""
    request = urllib.request.Request(
        url, data=ALERT, headers={"Content-Type": "application/json"}, method="POST"
    )
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or time.monotonic() > deadline:
                return exc.code
            time.sleep(0.5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.kafka
def test_demo_opens_the_war_room() -> None:
    if shutil.which("java") is None and not os.environ.get("CORRELATOR_CI"):
        pytest.skip("the demo's Kafka broker needs Java")
    process = subprocess.Popen(
        [sys.executable, "-m", "correlator", "demo", "--kind", "kafka", "--duration", "45"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not any("/ingest" in line for line in lines):
            line = process.stdout.readline()
            assert line, f"the demo ended before printing its ingest URL: {lines}"
            lines.append(line)
        url = re.search(r"http://127\.0\.0\.1:\d+/ingest", lines[-1])
        assert url is not None, lines[-1]
        assert _post(url.group(0), time.monotonic() + 60) == 202
        out, err = process.communicate(timeout=150)
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=30)
    out = "".join(lines) + out
    assert process.returncode == 0, (out, err)
    shown = re.search(r"war room showed (\d+) open incidents", out)
    assert shown is not None, out
    assert int(shown.group(1)) >= 1
    assert "first incident on screen never" not in out
    # The simulated teammate's planned-work window reached the war room's banner.
    planned = re.search(r"planned work: (\d+) window", out)
    assert planned is not None, out
    assert int(planned.group(1)) == 1
    # The worker's log is quiet and plain: no timer floods, no startup races logged as errors,
    # no terminal control codes in a file.
    workdir = re.search(r"logs and history in (\S+)", out)
    assert workdir is not None, out
    log = Path(workdir.group(1), "worker.log").read_text(errors="replace")
    assert "\x1b" not in log
    noise = ("is overlapping", "Group Coordinator Request failed")
    assert [line for line in log.splitlines() if any(n in line for n in noise)] == []
