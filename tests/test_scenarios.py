"""The example scenarios against the figures computed by hand in topologies/scenarios/EXPECTED.md
(an oracle independent of the engine): final summaries, peaks and per-step customers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from correlator.replay import Replay, read_inputs
from correlator.topology_files import load_topology

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "topologies" / "scenarios"


def replay(topology: str, scenario: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    engine = Replay(load_topology(ROOT / "topologies" / f"{topology}.yaml"))
    events: list[dict[str, Any]] = []
    for _, result in engine.run(read_inputs([SCENARIOS / scenario])):
        for event in result.events:
            snap = event.incident
            events.append(
                {
                    "type": event.type,
                    "affected": snap.customers_affected,
                    "degraded": snap.customers_degraded,
                    "severity": snap.severity,
                    "roots": set(snap.root_causes),
                }
            )
    return engine.summary(), events


def states(summary: dict[str, Any]) -> dict[str, tuple[str, float]]:
    return {s["id"]: (s["state"], s["impact"]) for s in summary["business_services"]}


def test_acme_shop_cart_shard_down() -> None:
    summary, events = replay("acme-shop", "acme-shop-cart-shard-down.jsonl")
    assert {
        k: summary[k]
        for k in (
            "customers_total",
            "customers_affected",
            "customers_degraded",
            "estimated",
            "incidents_total",
            "unattached_problems",
            "alerts",
            "as_of",
        )
    } == {
        "customers_total": 400_400,
        "customers_affected": 0,
        "customers_degraded": 0,
        "estimated": False,
        "incidents_total": 1,
        "unattached_problems": [],
        "alerts": {"received": 6, "mapped": 6, "unmapped": 0, "invalid": 0},
        "as_of": "2025-03-14T10:06:40Z",
    }
    assert summary["open_incidents"] == []
    assert {state for state, _ in states(summary).values()} == {"ok"}
    first = events[0]
    assert (first["type"], first["affected"], first["severity"], first["roots"]) == (
        "incident.opened",
        100_100,
        "SEV1",
        {"cart-db-2"},
    )
    assert events[1]["roots"] == {"cart-db-2", "cartservice"}  # the literal §6 rule
    assert (events[1]["affected"], events[1]["degraded"]) == (100_100, 300_300)
    assert max(e["affected"] for e in events) == 100_100
    assert events[-1]["type"] == "incident.resolved"
    assert [e for e in events if e["degraded"] == 400_400 and e["severity"] == "SEV4"]


def test_bank_shard_then_quorum() -> None:
    summary, events = replay("bank", "bank-shard-then-quorum.jsonl")
    assert (summary["customers_affected"], summary["customers_degraded"]) == (0, 2_568_000)
    assert summary["alerts"] == {"received": 11, "mapped": 11, "unmapped": 0, "invalid": 0}
    assert summary["incidents_total"] == 1 and summary["as_of"] == "2025-03-14T09:25:00Z"
    assert set(states(summary).values()) == {("degraded", 0.0)}
    [incident] = summary["open_incidents"]
    assert (incident["severity"], incident["peak_severity"]) == ("SEV4", "SEV1")
    assert incident["peak_customers_affected"] == 2_568_000
    assert incident["root_causes"] == ["etcd-2"]
    assert [c["id"] for c in incident["components"]] == ["etcd-2"]
    # one shard down: the same customers in every service (321,000, not 7 × 321,000)
    assert (events[0]["affected"], events[0]["severity"]) == (321_000, "SEV1")
    quorum_lost = [e for e in events if e["affected"] == 2_568_000]
    assert quorum_lost and quorum_lost[0]["roots"] == {"etcd-2", "etcd-3", "ledger-db-s3"}
    assert {"ledger-coordinator", "ledger-db-s3", "etcd-2"} in [e["roots"] for e in events]


def test_saas_postgres_outage() -> None:
    summary, events = replay("saas", "saas-postgres-outage.jsonl")
    assert (summary["customers_affected"], summary["customers_degraded"]) == (0, 564_000)
    assert summary["alerts"] == {"received": 8, "mapped": 7, "unmapped": 1, "invalid": 0}
    assert summary["as_of"] == "2025-03-14T14:19:00Z"
    degraded = {sid for sid, (state, _) in states(summary).items() if state == "degraded"}
    assert degraded == {"web-app", "public-api", "billing"}
    [incident] = summary["open_incidents"]
    assert (incident["severity"], incident["peak_severity"]) == ("SEV4", "SEV1")
    assert incident["peak_customers_affected"] == 564_000
    assert incident["root_causes"] == ["notifications"]
    assert events[0]["roots"] == {"pg-main"} and events[0]["affected"] == 564_000
    assert [e["roots"] for e in events][-3:] == [
        {"auth", "notifications"},
        {"api", "notifications"},
        {"notifications"},
    ]


@pytest.mark.parametrize("scenario", sorted(p.name for p in SCENARIOS.glob("*.jsonl")))
def test_every_scenario_replays_to_one_incident(scenario: str) -> None:
    topology = scenario.split("-")[0] if not scenario.startswith("acme") else "acme-shop"
    summary, _ = replay(topology, scenario)
    assert summary["incidents_total"] == 1
