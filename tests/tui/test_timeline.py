"""The incident timeline: every event of an incident, with its time and what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from warroom_records import NOW, at, incident, snapshot

from correlator.records import TOPIC_INCIDENT_EVENTS, Record
from correlator.replay import replay_records
from correlator.topology_files import load_topology
from tui.state import WarRoomState

ROOT = Path(__file__).resolve().parents[2]


def event(kind: str, snap: dict[str, Any], minutes_ago: float) -> Record:
    value = {"schema": 1, "type": f"incident.{kind}", "seq": snap["seq"], "at": at(minutes_ago)}
    value["incident"] = snap
    return Record(TOPIC_INCIDENT_EVENTS, snap["id"], value)


def shown(state: WarRoomState, incident_id: str) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(at_text(e.at_ms), e.kind, e.changes) for e in state.timelines[incident_id].entries]


def at_text(ms: int | None) -> str:
    return "?" if ms is None else f"-{(NOW - ms) // 60_000}m"


def db(component: str, alerts: int = 1, state: str = "down") -> dict[str, Any]:
    return {"id": component, "state": state, "root_cause": True, "alert_count": alerts}


def test_every_event_is_listed_with_what_changed() -> None:
    opened = snapshot("inc-1", 1, severity="SEV3", customers=1000, components=[db("cart-db")])
    grown = snapshot(
        "inc-1",
        2,
        severity="SEV2",
        customers=4000,
        components=[db("cart-db", 3), db("cart", 1, "degraded")],
        root_causes=["cart-db"],
        services=[
            {"id": "checkout", "name": "Checkout", "tier": 1, "impact": 0.5, "state": "partial"},
            {"id": "browse", "name": "Browse", "tier": 2, "impact": 0.1, "state": "partial"},
        ],
    )
    acked = {**grown, "seq": 3, "acknowledged_by": "sam", "acknowledged_at": at(6)}
    resolved = {
        **acked,
        "seq": 4,
        "status": "resolved",
        "resolved_at": at(0),
        "customers_affected": 0,
        "peak_customers_affected": 4000,
    }
    state = WarRoomState()
    state.apply_all(
        [
            event("opened", opened, 10),
            event("updated", grown, 8),
            event("acknowledged", acked, 6),
            event("updated", grown, 8),  # a duplicate changes nothing
            event("resolved", resolved, 0),
        ],
        NOW,
    )
    assert shown(state, "inc-1") == [
        ("-10m", "opened", ("SEV3", "1,000 customers", "root cause cart-db")),
        (
            "-8m",
            "updated",
            (
                "SEV3 → SEV2",
                "customers 1,000 → 4,000",
                "services +browse",
                "components +cart",
                "alerts 1 → 4",
            ),
        ),
        ("-6m", "acknowledged", ("by sam",)),
        ("-0m", "resolved", ("after 10m", "peak 4,000 customers")),
    ]
    assert state.timelines["inc-1"].missing == 0


def test_a_merge_shows_on_both_incidents() -> None:
    survivor = snapshot("inc-1", 1, customers=1000)
    absorbed = snapshot("inc-2", 2, customers=300, status="merged")
    absorbed["merged_into"] = "inc-1"
    state = WarRoomState()
    state.apply_all([event("opened", survivor, 5), event("merged", absorbed, 2)], NOW)
    assert shown(state, "inc-2") == [("-2m", "merged", ("into inc-1",))]
    assert shown(state, "inc-1") == [
        ("-5m", "opened", ("SEV2", "1,000 customers", "root cause inc-1-db")),
        ("-2m", "absorbed", ("absorbed inc-2", "its 300 customers")),
    ]


def test_joining_late_compares_with_the_snapshot_known_and_counts_what_was_missed() -> None:
    state = WarRoomState()
    state.apply_all(
        [
            incident(snapshot("inc-1", 2, severity="SEV3", customers=500)),
            event("updated", snapshot("inc-1", 3, severity="SEV2", customers=900), 1),
        ],
        NOW,
    )
    assert shown(state, "inc-1") == [("-1m", "updated", ("SEV3 → SEV2", "customers 500 → 900"))]
    assert state.timelines["inc-1"].missing == 2


def test_a_real_outage_lists_each_event_once_in_order() -> None:
    """The engine's own events for the README's cart-shard scenario."""
    topology = load_topology(ROOT / "topologies" / "acme-shop.yaml")
    scenario = ROOT / "topologies" / "scenarios" / "acme-shop-cart-shard-down.jsonl"
    records = [r for _, r in replay_records(topology, [scenario])]
    events = [r.value for r in records if r.topic == TOPIC_INCIDENT_EVENTS and r.value]
    state = WarRoomState()
    state.apply_all(records + records, None)  # everything twice: duplicates are dropped
    (incident_id,) = state.timelines
    entries = state.timelines[incident_id].entries
    assert [(e.seq, "incident." + e.kind) for e in entries] == [
        (e["seq"], e["type"]) for e in events
    ]
    assert all(e.changes for e in entries), [e for e in entries if not e.changes]
