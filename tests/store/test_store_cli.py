"""`correlator incidents list|show` as a user runs them: subprocesses on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session
from store_events import event, lifecycle, replayed

from correlator.store import open_store, record_event


def _correlator(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "CORRELATOR_DB"}
    environment.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "correlator", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )


def _fill(db_url: str) -> list[str]:
    engine = open_store(db_url)
    real = replayed("acme-shop-cart-shard-down.jsonl", "acme-shop.yaml")
    with Session(engine) as session:
        for e in [*real, *lifecycle("inc-old")]:
            record_event(session, e)
        record_event(
            session,
            event(
                "inc-new",
                1,
                "incident.opened",
                "2025-03-15T09:00:00Z",
                opened_at="2025-03-15T09:00:00Z",
                severity="SEV1",
                customers=123456,
            ),
        )
        session.commit()
    engine.dispose()
    return [real[0]["incident"]["id"], "inc-old", "inc-new"]


def test_list_prints_a_table_newest_first(db_url: str) -> None:
    real_id, _, _ = _fill(db_url)

    result = _correlator("incidents", "list", "--db", db_url)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "SEV", "STATUS", "CUSTOMERS", "PEAK", "OPENED", "TITLE"]
    assert [line.split()[:5] for line in lines[1:]] == [
        ["inc-new", "SEV1", "open", "123,456", "123,456"],
        [real_id, "SEV4", "resolved", "0", "100,100"],
        ["inc-old", "SEV2", "resolved", "0", "60,000"],
    ]
    assert "2025-03-15 09:00:00Z" in lines[1]


def test_list_filters_by_status_and_limit(db_url: str) -> None:
    _fill(db_url)

    open_only = _correlator("incidents", "list", "--db", db_url, "--status", "open")
    limited = _correlator("incidents", "list", "--db", db_url, "--limit", "1")
    none = _correlator("incidents", "list", "--db", db_url, "--status", "merged")

    assert [line.split()[0] for line in open_only.stdout.splitlines()[1:]] == ["inc-new"]
    assert [line.split()[0] for line in limited.stdout.splitlines()[1:]] == ["inc-new"]
    assert none.returncode == 0
    assert none.stdout.startswith("no merged incidents in ")


def test_show_prints_the_snapshot_and_the_timeline(db_url: str) -> None:
    real_id, _, _ = _fill(db_url)

    result = _correlator("incidents", "show", real_id, "--db", db_url)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == f"{real_id}  SEV4  resolved"
    assert "peak 100,100, peak severity SEV1" in out
    assert "timeline (6 events):" in out
    timeline = out.split("timeline (6 events):\n")[1].splitlines()
    assert [line.split()[:4] for line in timeline] == [
        ["1", "2025-03-14", "10:00:00Z", "incident.opened"],
        ["2", "2025-03-14", "10:00:20Z", "incident.updated"],
        ["3", "2025-03-14", "10:00:45Z", "incident.updated"],
        ["4", "2025-03-14", "10:06:00Z", "incident.updated"],
        ["5", "2025-03-14", "10:06:20Z", "incident.updated"],
        ["6", "2025-03-14", "10:06:40Z", "incident.resolved"],
    ]
    assert "100,100 customers  cart-db-2" in timeline[0]


def test_show_accepts_a_unique_prefix_and_the_environment_default(db_url: str) -> None:
    _fill(db_url)

    result = _correlator("incidents", "show", "inc-ol", env={"CORRELATOR_DB": db_url})

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("inc-old  SEV2  resolved\n")
    assert "acknowledged by alice at 2025-03-14 10:00:10Z" in result.stdout


def test_unknown_or_ambiguous_ids_are_one_line_and_exit_2(db_url: str) -> None:
    _fill(db_url)

    unknown = _correlator("incidents", "show", "inc-nope", "--db", db_url)
    ambiguous = _correlator("incidents", "show", "inc-", "--db", db_url)

    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert unknown.stderr.startswith("correlator: error: no incident 'inc-nope' in ")
    assert unknown.stderr.count("\n") == 1
    assert ambiguous.returncode == 2
    assert "is ambiguous" in ambiguous.stderr


def test_unreachable_databases_are_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = _correlator("incidents", "list", "--db", f"sqlite:///{tmp_path}/none.db")
    refused = _correlator("incidents", "show", "x", "--db", "postgresql://u:pw@127.0.0.1:1/db")

    for result in (missing, refused):
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.startswith("correlator: error: ")
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_list_marks_planned_work(db_url: str) -> None:
    engine = open_store(db_url)
    planned = event("inc-plan", 1, "incident.opened", "2025-03-15T09:00:00Z", customers=50)
    planned["incident"]["planned"] = True
    with Session(engine) as session:
        record_event(session, planned)
        record_event(session, event("inc-unplanned", 1, "incident.opened", "2025-03-15T08:00:00Z"))
        session.commit()
    engine.dispose()

    result = _correlator("incidents", "list", "--db", db_url)

    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[2:4] for line in result.stdout.splitlines()[1:]}
    assert rows == {"inc-plan": ["open", "planned"], "inc-unplanned": ["open", "0"]}
