"""Planned work offline: a `maintenance` record in the replay input declares a window at that
point of the input, deterministically (DESIGN §6, §7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "topologies" / "scenarios" / "acme-shop-cart-shard-down.jsonl"
TOPOLOGY = ROOT / "topologies" / "acme-shop.yaml"
WINDOW = {
    "schema": 1,
    "type": "maintenance",
    "id": "mw-cart-db",
    "components": ["cart-db-2"],
    "match": [{"component": "cartservice"}],
    "starts_at": "2025-03-14T09:55:00Z",
    "ends_at": "2025-03-14T10:05:00Z",
    "reason": "cart-db-2 failover test",
    "by": "alice",
}


def correlator(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "correlator", *args], capture_output=True, cwd=ROOT, timeout=120
    )


def test_replay_with_a_window_is_planned_until_the_window_ends(tmp_path: Path) -> None:
    path = tmp_path / "planned.jsonl"
    path.write_bytes(json.dumps(WINDOW).encode() + b"\n" + SCENARIO.read_bytes())
    first = correlator("replay", "--topology", str(TOPOLOGY), str(path))
    again = correlator("replay", "--topology", str(TOPOLOGY), str(path))
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout and first.stderr == b""
    events = [json.loads(line) for line in first.stdout.splitlines()]
    plain = correlator("replay", "--topology", str(TOPOLOGY), str(SCENARIO))
    unplanned = [json.loads(line) for line in plain.stdout.splitlines()]
    # The same incident, one event more: the window ending while cart-db-2 is still down.
    assert [(e["at"], e["incident"]["planned"]) for e in events] == [
        ("2025-03-14T10:00:00Z", True),
        ("2025-03-14T10:00:20Z", True),
        ("2025-03-14T10:00:45Z", True),
        ("2025-03-14T10:05:00Z", False),
        ("2025-03-14T10:06:00Z", False),
        ("2025-03-14T10:06:20Z", False),
        ("2025-03-14T10:06:40Z", False),
    ]
    assert [e["incident"]["planned"] for e in unplanned] == [False] * len(unplanned)
    changed = events[3]
    assert changed["type"] == "incident.updated"
    assert changed["incident"]["customers_affected"] == events[2]["incident"]["customers_affected"]

    # Stopped while cart-db-2 is down inside the window: its customers are counted apart.
    head = tmp_path / "head.jsonl"
    head.write_bytes(b"\n".join(path.read_bytes().splitlines()[:3]))
    until = ("--until", "2025-03-14T10:01:00Z")
    summary = correlator("replay", "--summary", *until, "--topology", str(TOPOLOGY), str(head))
    assert summary.returncode == 0, summary.stderr
    doc = json.loads(summary.stdout)
    assert doc["customers_affected_planned"] == doc["customers_affected"] > 0
    assert [s["planned"] for s in doc["open_incidents"]] == [True]


def test_a_malformed_window_is_counted_as_invalid_input(tmp_path: Path) -> None:
    bad = dict(WINDOW, starts_at="soon")
    path = tmp_path / "bad.jsonl"
    path.write_bytes(json.dumps(bad).encode() + b"\n" + SCENARIO.read_bytes())
    done = correlator("replay", "--topology", str(TOPOLOGY), str(path))
    assert done.returncode == 0
    err = done.stderr.decode()
    assert err.count("\n") == 1 and "maintenance mw-cart-db: starts_at/ends_at" in err
