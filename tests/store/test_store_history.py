"""`record_event` and the queries, on SQLite and PostgreSQL: the same tests on both."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from store_events import event, lifecycle, replayed

from correlator.store import (
    Incident,
    IncidentEvent,
    InvalidEventError,
    StoreError,
    get_incident,
    list_incidents,
    open_store,
    record_event,
    store_values,
)
from correlator.store.models import as_utc


@pytest.fixture
def engine(db_url: str) -> Engine:
    return open_store(db_url)


def _record(engine: Engine, events: list[dict[str, Any]]) -> list[bool]:
    with Session(engine) as session:
        results = [record_event(session, e) for e in events]
        session.commit()
    return results


def _row(engine: Engine, incident_id: str) -> dict[str, Any]:
    with Session(engine) as session:
        found = get_incident(session, incident_id)
        assert found is not None
        incident, events = found
        return {
            "status": incident.status,
            "severity": incident.severity,
            "customers_affected": incident.customers_affected,
            "peak_customers_affected": incident.peak_customers_affected,
            "opened_at": as_utc(incident.opened_at),
            "resolved_at": as_utc(incident.resolved_at),
            "acknowledged_by": incident.acknowledged_by,
            "acknowledged_at": as_utc(incident.acknowledged_at),
            "last_seq": incident.last_seq,
            "snapshot_seq": incident.snapshot["seq"],
            "timeline": [(e.seq, e.type, as_utc(e.at)) for e in events],
        }


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_opened_updated_resolved_build_the_row_and_the_timeline(engine: Engine) -> None:
    assert _record(engine, lifecycle()) == [True, True, True]

    assert _row(engine, "inc-1") == {
        "status": "resolved",
        "severity": "SEV2",
        "customers_affected": 0,
        "peak_customers_affected": 60000,
        "opened_at": _t("2025-03-14T10:00:00"),
        "resolved_at": _t("2025-03-14T10:06:00"),
        "acknowledged_by": "alice",
        "acknowledged_at": _t("2025-03-14T10:00:10"),
        "last_seq": 3,
        "snapshot_seq": 3,
        "timeline": [
            (1, "incident.opened", _t("2025-03-14T10:00:00")),
            (2, "incident.updated", _t("2025-03-14T10:00:20.500")),
            (3, "incident.resolved", _t("2025-03-14T10:06:00")),
        ],
    }


def test_each_event_updates_the_row_to_its_snapshot(engine: Engine) -> None:
    first, second, _ = lifecycle()
    _record(engine, [first])
    assert _row(engine, "inc-1")["customers_affected"] == 30000

    _record(engine, [second])

    row = _row(engine, "inc-1")
    assert (row["status"], row["customers_affected"], row["last_seq"]) == ("open", 60000, 2)


def test_the_same_seq_twice_changes_nothing(engine: Engine) -> None:
    first, second, _ = lifecycle()
    _record(engine, [first, second])
    before = _row(engine, "inc-1")

    assert _record(engine, [second]) == [False]
    assert _record(engine, [second, second]) == [False, False]

    assert _row(engine, "inc-1") == before


def test_an_older_seq_after_a_newer_changes_nothing(engine: Engine) -> None:
    events = lifecycle()
    _record(engine, events)
    before = _row(engine, "inc-1")

    assert _record(engine, [events[1], events[0]]) == [False, False]

    assert _row(engine, "inc-1") == before
    assert before["status"] == "resolved"


def test_duplicates_within_one_uncommitted_batch_are_dropped(engine: Engine) -> None:
    first, second, third = lifecycle()
    assert _record(engine, [first, second, first, third, second]) == [
        True,
        True,
        False,
        True,
        False,
    ]
    assert [s for s, _, _ in _row(engine, "inc-1")["timeline"]] == [1, 2, 3]


def test_invalid_events_raise_and_record_nothing(engine: Engine) -> None:
    good = lifecycle()[0]
    bad_seq = {**good, "seq": "1"}
    no_incident = {**good, "incident": None}
    bad_time = {**good, "at": "yesterday"}
    bad_status = event("inc-1", 1, "incident.opened", "2025-03-14T10:00:00Z", status="gone")
    bad_severity = event("inc-1", 1, "incident.opened", "2025-03-14T10:00:00Z", severity="P1")
    not_event = {**good, "type": "ack"}

    for bad in (bad_seq, no_incident, bad_time, bad_status, bad_severity, not_event):
        with Session(engine) as session, pytest.raises(InvalidEventError):
            record_event(session, bad)

    with Session(engine) as session:
        assert list(session.exec(select(Incident))) == []
        assert list(session.exec(select(IncidentEvent))) == []


def test_list_filters_by_status_newest_first_with_a_limit(engine: Engine) -> None:
    _record(engine, lifecycle("inc-a"))  # resolved, opened 10:00
    _record(
        engine,
        [
            event(
                "inc-b",
                1,
                "incident.opened",
                "2025-03-14T11:00:00Z",
                opened_at="2025-03-14T11:00:00Z",
            ),
            event(
                "inc-c",
                1,
                "incident.opened",
                "2025-03-14T12:00:00Z",
                opened_at="2025-03-14T12:00:00Z",
            ),
            event(
                "inc-c",
                2,
                "incident.merged",
                "2025-03-14T12:01:00Z",
                opened_at="2025-03-14T12:00:00Z",
                status="merged",
                merged_into="inc-b",
            ),
        ],
    )

    with Session(engine) as session:
        assert [i.id for i in list_incidents(session)] == ["inc-c", "inc-b", "inc-a"]
        assert [i.id for i in list_incidents(session, limit=2)] == ["inc-c", "inc-b"]
        assert [i.id for i in list_incidents(session, "open")] == ["inc-b"]
        assert [i.id for i in list_incidents(session, "resolved")] == ["inc-a"]
        merged = list_incidents(session, "merged")
        assert [(i.id, i.merged_into) for i in merged] == [("inc-c", "inc-b")]
        assert get_incident(session, "inc-zzz") is None


def test_real_engine_events_round_trip_into_the_snapshot_column(engine: Engine) -> None:
    events = replayed("acme-shop-cart-shard-down.jsonl", "acme-shop.yaml")
    assert _record(engine, events) == [True] * len(events)

    with Session(engine) as session:
        [incident] = list_incidents(session)
        found = get_incident(session, incident.id)
    assert found is not None
    row, timeline = found
    assert row.snapshot == events[-1]["incident"]
    assert [e.snapshot for e in timeline] == [e["incident"] for e in events]
    assert (row.status, row.peak_customers_affected, row.peak_severity) == (
        "resolved",
        100100,
        "SEV1",
    )


def test_store_values_counts_stored_duplicates_and_invalid_records(engine: Engine) -> None:
    first, second, third = (orjson.dumps(e) for e in lifecycle())

    counts = store_values(engine, [first, second, b"not json", None, b'{"type": "x"}', first])
    again = store_values(engine, [second, third])

    assert (counts.stored, counts.duplicates, counts.invalid) == (2, 1, 2)
    assert (again.stored, again.duplicates, again.invalid) == (1, 1, 0)
    assert _row(engine, "inc-1")["last_seq"] == 3


def test_open_store_is_idempotent_and_keeps_the_history(db_url: str) -> None:
    _record(open_store(db_url), lifecycle())

    assert _row(open_store(db_url), "inc-1")["last_seq"] == 3


def test_unreachable_databases_are_one_line_store_errors(tmp_path: Any) -> None:
    cases = [
        f"sqlite:///{tmp_path}/missing/dir/history.db",
        "postgresql://nobody:secret@127.0.0.1:1/none",
        "nonsense",
    ]
    for url in cases:
        with pytest.raises(StoreError) as info:
            open_store(url)
        assert "\n" not in str(info.value)
        assert "secret" not in str(info.value)
    with pytest.raises(StoreError, match="no such database file"):
        open_store(f"sqlite:///{tmp_path}/absent.db", create=False)


def test_planned_work_is_a_column_and_older_databases_are_upgraded(
    engine: Engine, db_url: str
) -> None:
    planned = event("inc-planned", 1, "incident.opened", "2025-03-14T10:00:00Z", customers=500)
    planned["incident"]["planned"] = True
    unplanned = event("inc-planned", 2, "incident.updated", "2025-03-14T10:05:00Z", customers=500)
    unplanned["incident"]["planned"] = False
    old = event("inc-old", 1, "incident.opened", "2025-03-14T10:00:00Z")
    old["incident"].pop("planned", None)  # recorded before planned work existed
    _record(engine, [planned, old])
    with Session(engine) as session:
        rows = {i.id: i.planned for i in session.exec(select(Incident))}
    assert rows == {"inc-planned": True, "inc-old": False}
    _record(engine, [unplanned])
    with Session(engine) as session:
        assert session.get(Incident, "inc-planned").planned is False  # type: ignore[union-attr]
    # A database made before the column existed: read-only callers are told, the sink adds it.
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS ix_incident_planned"))
        conn.execute(text("ALTER TABLE incident DROP COLUMN planned"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"older correlator \(no column incident.planned\)"):
        open_store(db_url, create=False)
    upgraded = open_store(db_url)
    with Session(upgraded) as session:
        assert {i.id: i.planned for i in session.exec(select(Incident))} == {
            "inc-planned": False,
            "inc-old": False,
        }


_OPEN_AT = """
import sys, time
from correlator.store import open_store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
open_store(sys.argv[1])
"""


@pytest.mark.parametrize("attempt", range(3))
def test_workers_starting_at_once_all_open_a_new_database(db_url: str, attempt: int) -> None:
    """Several workers started together on one new history database race to create its
    tables; every one of them opens it (one used to exit with "table incident already
    exists" while another was between its first table and its last)."""
    start_at = time.time() + 3.0  # every process imported and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT, db_url, str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [(p.wait(60), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0] * 6, [err[-300:] for _, err in results]
    assert {"incident", "incident_event"} <= set(sa_inspect(open_store(db_url)).get_table_names())
