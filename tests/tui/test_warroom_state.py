"""`WarRoomState`: the pure fold behind the war room."""

from __future__ import annotations

from warroom_records import NOW, at, incident, scenario_records, snapshot, summary, unmapped

from correlator.core.timefmt import MINUTE, SECOND
from correlator.records import TOPIC_INCIDENT_EVENTS, TOPIC_INCIDENTS, Record
from tui.formatting import format_duration
from tui.state import WarRoomState


def folded(records: list[Record], now: int = NOW) -> WarRoomState:
    state = WarRoomState()
    state.apply_all(records, now)
    return state


def test_latest_snapshot_wins_and_older_seq_is_dropped() -> None:
    state = folded(
        [
            incident(snapshot("inc-1", 2, customers=200)),
            incident(snapshot("inc-1", 1, customers=100)),
            incident(snapshot("inc-1", 2, customers=999)),  # a duplicate seq changes nothing
        ]
    )
    assert {k: (v["seq"], v["customers_affected"]) for k, v in state.incidents.items()} == {
        "inc-1": (2, 200)
    }


def test_events_carry_snapshots_and_tombstones_remove() -> None:
    event = {"schema": 1, "type": "incident.updated", "seq": 3, "at": at(0)}
    event["incident"] = snapshot("inc-1", 3, customers=300)
    state = folded(
        [
            incident(snapshot("inc-1", 2)),
            Record(TOPIC_INCIDENT_EVENTS, "inc-1", event),
            incident(snapshot("inc-2", 1)),
            Record(TOPIC_INCIDENTS, "inc-2", None),
        ]
    )
    assert {k: v["seq"] for k, v in state.incidents.items()} == {"inc-1": 3}


def test_malformed_records_are_counted_not_raised() -> None:
    state = folded(
        [
            Record(TOPIC_INCIDENTS, "x", {"schema": 1, "id": "x"}),  # no seq
            Record(TOPIC_INCIDENT_EVENTS, "x", {"schema": 1, "type": "incident.opened"}),
            incident(snapshot("inc-1", 1)),
        ]
    )
    assert (state.rejected, state.applied, list(state.incidents)) == (2, 1, ["inc-1"])


def test_sort_keys_cycle_and_order_rows() -> None:
    state = folded(scenario_records())
    assert [s["id"] for s in state.rows()] == [
        "inc-7f3a2c",
        "inc-19be04",
        "inc-0c44d1",
        "inc-5e0b9a",
    ]
    assert state.cycle_sort() == "customers"
    assert state.cycle_sort() == "newest"
    assert [s["id"] for s in state.rows()] == [
        "inc-5e0b9a",
        "inc-7f3a2c",
        "inc-19be04",
        "inc-0c44d1",
    ]
    assert state.cycle_sort() == "updated"
    assert state.cycle_sort() == "severity"


def test_filter_matches_id_title_services_and_components() -> None:
    state = folded(scenario_records())
    for text, expected in [
        ("search", ["inc-19be04"]),
        ("PAYMENTS-DB", ["inc-7f3a2c"]),
        ("checkoutservice", ["inc-7f3a2c"]),
        ("Notifications", ["inc-5e0b9a"]),
        ("inc-0c44", ["inc-0c44d1"]),
        ("down payments", ["inc-7f3a2c"]),
        ("nothing-like-this", []),
    ]:
        state.set_filter(text)
        assert [s["id"] for s in state.rows()] == expected, text


def test_summary_history_feeds_a_30_minute_sparkline() -> None:
    state = folded(scenario_records())
    line = state.sparkline(30)
    assert len(line) == 30
    assert line[0] == 0.0
    assert line[-1] == 153000.0
    assert max(line) == 153000.0
    assert 8000.0 in line and 33000.0 in line
    assert all(t >= NOW - 31 * MINUTE for t, _ in state.history)


def test_stale_when_lag_over_30s_or_sources_stale_or_summary_silent() -> None:
    assert folded([summary(lag=30)]).stale_reasons(NOW) == []
    assert folded([summary(lag=31.4)]).stale_reasons(NOW) == ["ingest lag 31 s"]
    assert folded([summary(stale_sources=["prometheus-eu"])]).stale_reasons(NOW) == [
        "stale sources: prometheus-eu"
    ]
    state = folded([summary()])
    assert state.stale_reasons(NOW + 2 * MINUTE) == []
    assert state.stale_reasons(NOW + 3 * MINUTE) == ["no impact summary for 3m"]
    waiting = WarRoomState(started_ms=NOW)
    assert waiting.stale_reasons(NOW + 10 * SECOND) == []
    assert waiting.stale_reasons(NOW + 5 * MINUTE) == ["no impact summary received"]


def test_unmapped_alerts_are_grouped_by_label_set() -> None:
    state = folded(
        [
            unmapped({"alertname": "A", "pod": "x-1"}, "f1", "first"),
            unmapped({"pod": "x-1", "alertname": "A"}, "f1", "again"),
            unmapped({"alertname": "A", "pod": "x-1"}, "f2"),
            unmapped({"alertname": "B"}, "f3"),
        ]
    )
    assert [
        (g.labels, g.count, len(g.fingerprints), g.last_summary) for g in state.unmapped_groups()
    ] == [
        ((("alertname", "A"), ("pod", "x-1")), 3, 2, "again"),
        ((("alertname", "B"),), 1, 1, ""),
    ]


def test_pending_ack_clears_when_a_snapshot_confirms_it() -> None:
    state = folded([incident(snapshot("inc-1", 1))])
    state.mark_ack_pending("inc-1", "sam")
    state.apply(incident(snapshot("inc-1", 2, acknowledged_by="sam")), NOW)
    assert state.pending_acks == {}


def test_format_duration() -> None:
    assert [format_duration(ms) for ms in (0, 59_000, 61_000, 3_900_000, 90_000_000)] == [
        "0s",
        "59s",
        "1m",
        "1h05m",
        "1d01h",
    ]
