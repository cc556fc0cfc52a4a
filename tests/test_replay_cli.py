"""`correlator replay` end to end through the command line (DESIGN §7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "topologies" / "scenarios").glob("*.jsonl"))

BANK = """
apiVersion: correlator/v1
name: worked-example
segments:
  - {id: retail, customers: 1000000, uses: [online-banking, atm]}
business_services:
  - {id: online-banking, tier: 1, depends_on: [accounts]}
  - {id: atm, tier: 1, depends_on: [accounts]}
components:
  - {id: accounts, depends_on: [{split: [db-1, db-2, db-3, db-4]}]}
  - {id: db-1}
  - {id: db-2}
  - {id: db-3}
  - {id: db-4}
"""


def correlator(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "correlator", *args], capture_output=True, cwd=ROOT, timeout=120
    )


def topology_for(scenario: Path) -> Path:
    name = scenario.stem
    for candidate in sorted((ROOT / "topologies").glob("*.yaml"), key=lambda p: -len(p.stem)):
        if name.startswith(candidate.stem + "-"):
            return candidate
    raise AssertionError(f"no topology for {scenario}")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_replay_is_byte_identical_run_after_run(scenario: Path) -> None:
    topo = str(topology_for(scenario))
    first = correlator("replay", "--topology", topo, str(scenario))
    second = correlator("replay", "--topology", topo, str(scenario))
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert events and events[0]["type"] == "incident.opened"
    by_incident: dict[str, list[int]] = {}
    for event in events:
        assert event["schema"] == 1 and event["incident"]["schema"] == 1
        by_incident.setdefault(event["incident"]["id"], []).append(event["seq"])
    for seqs in by_incident.values():
        assert seqs == list(range(1, len(seqs) + 1))  # seq + 1 per change, no gaps


def test_summary_of_the_worked_example(tmp_path: Path) -> None:
    (tmp_path / "bank.yaml").write_text(BANK)
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(
        json.dumps(
            {
                "fingerprint": "db2",
                "status": "firing",
                "severity": "critical",
                "labels": {"alertname": "PostgresDown", "instance": "db-2.prod.internal:5432"},
                "starts_at": "2026-11-24T08:00:00Z",
                "received_at": "2026-11-24T08:00:01Z",
            }
        )
        + "\n"
    )
    out = correlator("replay", "--topology", str(tmp_path / "bank.yaml"), str(alerts), "--summary")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["customers_affected"] == 250_000  # not 437,500
    assert summary["business_services"] == [
        {"id": "online-banking", "state": "partial", "impact": 0.25},
        {"id": "atm", "state": "partial", "impact": 0.25},
    ]
    assert summary["alerts"] == {"received": 1, "mapped": 1, "unmapped": 0, "invalid": 0}
    assert summary["incidents_total"] == 1
    [incident] = summary["open_incidents"]
    assert incident["root_causes"] == ["db-2"]
    assert incident["severity"] == "SEV1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "apiVersion: correlator/v1\nname: x\nsegments: [{id: s, customers: -1, uses: [b]}]\n"
            "business_services: [{id: b}]\n",
            "bad.yaml: segment 's': customers must be >= 0, got -1",
        ),
        (
            "apiVersion: correlator/v1\nname: x\ncomponents: [{id: a, depends_on: [zz]}]\n",
            "bad.yaml: component 'a': unknown reference 'zz'",
        ),
        (
            "apiVersion: correlator/v1\nname: x\ncomponents: [{id: a}, {id: a}]\n",
            "bad.yaml: component 'a': duplicate id (also a component)",
        ),
        (
            "name: [unclosed\n",
            "bad.yaml: line 2: not valid YAML/JSON: did not find expected ',' or ']'",
        ),
    ],
)
def test_bad_topology_is_one_line_and_exit_2(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    alerts = tmp_path / "a.jsonl"
    alerts.write_text("")
    out = correlator("replay", "--topology", str(tmp_path / "bad.yaml"), str(alerts))
    assert out.returncode == 2
    err = out.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_missing_alert_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "bank.yaml").write_text(BANK)
    out = correlator("replay", "--topology", str(tmp_path / "bank.yaml"), "nope.jsonl")
    assert out.returncode == 2
    assert out.stderr.decode() == "correlator: error: nope.jsonl: no such file or directory\n"


@pytest.mark.parametrize("command", ["replay", "warroom"])
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "README.md",
            "# Notes\n\nNot alerts at all.\n",
            "README.md: no valid alert in the input (line 1: invalid JSON: unexpected "
            "character, expected a JSON value: line 1 column 1 (char 0))",
        ),
        (
            "topology.json",
            '{"apiVersion": "correlator/v1", "name": "x"}\n',
            "topology.json: no valid alert in the input (line 1: a correlator topology, not an "
            "alert payload)",
        ),
        ("empty.jsonl", "", "empty.jsonl: no alert payload in the input"),
    ],
    ids=["readme", "topology", "empty"],
)
def test_input_without_a_valid_alert_is_one_line_and_exit_2(
    tmp_path: Path, command: str, name: str, content: str, message: str
) -> None:
    (tmp_path / "bank.yaml").write_text(BANK)
    path = tmp_path / name
    path.write_text(content)
    args = (
        ["replay", "--topology", str(tmp_path / "bank.yaml"), str(path)]
        if command == "replay"
        else ["warroom", "--replay", str(path), "--topology", str(tmp_path / "bank.yaml")]
    )
    out = correlator(*args)
    assert (out.returncode, out.stdout) == (2, b"")
    assert out.stderr.decode() == f"correlator: error: {tmp_path / message}\n"


def test_some_invalid_lines_are_counted_on_stderr_and_the_replay_goes_on(
    tmp_path: Path,
) -> None:
    (tmp_path / "bank.yaml").write_text(BANK)
    alerts = tmp_path / "a.jsonl"
    alerts.write_text(
        '{"status": "firing", "labels": {"component": "db-2"}, "severity": "critical",'
        ' "starts_at": "2026-01-01T00:00:00Z"}\n'
        "not json\n"
        '{"status": "open", "labels": {"component": "db-3"}}\n'
    )
    out = correlator("replay", "--topology", str(tmp_path / "bank.yaml"), str(alerts), "--summary")
    assert out.returncode == 0
    summary = json.loads(out.stdout)
    assert summary["alerts"] == {"received": 3, "mapped": 1, "unmapped": 0, "invalid": 2}
    assert summary["customers_affected"] == 250_000
    assert out.stderr.decode() == (
        f"correlator replay: 2 invalid payload(s) or alert(s) skipped; first: {alerts}:2: "
        "invalid JSON: invalid literal, expected 'null': line 1 column 1 (char 0)\n"
    )


def test_bare_canonical_alerts_without_received_at_replay(tmp_path: Path) -> None:
    (tmp_path / "bank.yaml").write_text(BANK)
    alerts = tmp_path / "a.jsonl"
    alerts.write_text(
        '{"status": "firing", "labels": {"component": "db-2"}, "severity": "critical",'
        ' "starts_at": "2026-01-01T00:00:00Z"}\n'
        '{"status": "resolved", "labels": {"component": "db-2"},'
        ' "ends_at": "2026-01-01T00:10:00Z"}\n'
    )
    out = correlator("replay", "--topology", str(tmp_path / "bank.yaml"), str(alerts))
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(e["type"], e["at"]) for e in events] == [
        ("incident.opened", "2026-01-01T00:00:00Z"),
        ("incident.resolved", "2026-01-01T00:10:00Z"),
    ]
