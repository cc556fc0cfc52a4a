"""Incident events for the store tests: hand-made ones, and real ones from the engine."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from correlator.replay import Replay, read_inputs
from correlator.topology_files import load_topology
from correlator.wire import event_to_dict

ROOT = Path(__file__).resolve().parents[2]


def event(
    incident: str,
    seq: int,
    kind: str,
    at: str,
    *,
    status: str = "open",
    severity: str = "SEV2",
    customers: int = 0,
    peak: int | None = None,
    opened_at: str = "2025-03-14T10:00:00Z",
    resolved_at: str | None = None,
    merged_into: str | None = None,
    acknowledged_by: str | None = None,
    acknowledged_at: str | None = None,
    root_causes: tuple[str, ...] = ("cart-db-2",),
) -> dict[str, Any]:
    """An `incident.events` value shaped like `correlator.wire.event_to_dict` makes them."""
    return {
        "schema": 1,
        "type": kind,
        "seq": seq,
        "at": at,
        "incident": {
            "schema": 1,
            "id": incident,
            "seq": seq,
            "status": status,
            "merged_into": merged_into,
            "severity": severity,
            "title": f"checkout partly down — {customers:,} customers affected",
            "opened_at": opened_at,
            "updated_at": at,
            "resolved_at": resolved_at,
            "as_of": at,
            "customers_affected": customers,
            "customers_degraded": 0,
            "peak_customers_affected": customers if peak is None else peak,
            "peak_severity": severity,
            "segments": [
                {
                    "id": "shoppers-eu",
                    "name": "EU shoppers",
                    "customers": 120000,
                    "affected": customers,
                    "degraded": 0,
                }
            ],
            "business_services": [
                {
                    "id": "checkout",
                    "name": "Checkout",
                    "tier": 1,
                    "impact": 0.25,
                    "state": "partial",
                    "owner": "team-payments",
                }
            ],
            "root_causes": list(root_causes),
            "components": [],
            "alert_count": 1,
            "estimated": False,
            "acknowledged_by": acknowledged_by,
            "acknowledged_at": acknowledged_at,
            "topology": {"name": "acme-shop", "version": "test"},
        },
    }


def lifecycle(incident: str = "inc-1") -> list[dict[str, Any]]:
    """Opened, updated (acknowledged, more customers), resolved."""
    return [
        event(incident, 1, "incident.opened", "2025-03-14T10:00:00Z", customers=30000),
        event(
            incident,
            2,
            "incident.updated",
            "2025-03-14T10:00:20.500Z",
            customers=60000,
            acknowledged_by="alice",
            acknowledged_at="2025-03-14T10:00:10Z",
        ),
        event(
            incident,
            3,
            "incident.resolved",
            "2025-03-14T10:06:00Z",
            status="resolved",
            severity="SEV2",
            customers=0,
            peak=60000,
            resolved_at="2025-03-14T10:06:00Z",
            acknowledged_by="alice",
            acknowledged_at="2025-03-14T10:00:10Z",
        ),
    ]


def replayed(scenario: str, topology: str) -> list[dict[str, Any]]:
    """The events the engine publishes for one of `topologies/scenarios`."""
    replay = Replay(load_topology(ROOT / "topologies" / topology))
    inputs = read_inputs([ROOT / "topologies" / "scenarios" / scenario])
    return [
        copy.deepcopy(event_to_dict(e)) for _, result in replay.run(inputs) for e in result.events
    ]
