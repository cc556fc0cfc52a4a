"""Hand-written war-room records that follow DESIGN §6, and a loader for replay files.

The fixed scenario lives in `data/acme_war_room.jsonl` (one `{"t", "topic", "key", "value"}` per
line); the builders here make ad-hoc records for single tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from correlator.core.timefmt import MINUTE, format_time, parse_time
from correlator.records import (
    TOPIC_ALERTS_UNMAPPED,
    TOPIC_IMPACT_SUMMARY,
    TOPIC_INCIDENTS,
    TOPIC_SERVICE_IMPACT,
    Record,
)

DATA = Path(__file__).parent / "data"
SCENARIO = DATA / "acme_war_room.jsonl"
NOW = parse_time("2025-03-14T10:30:00Z")
"""The fixed "now" every test and snapshot uses."""


def at(minutes_ago: float) -> str:
    return format_time(NOW - int(minutes_ago * MINUTE))


def load_replay(path: Path = SCENARIO) -> list[tuple[int, Record]]:
    """A replay file as `(event_time_ms, Record)` pairs, the shape `ReplayFeed` takes."""
    pairs: list[tuple[int, Record]] = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            item = orjson.loads(line)
            pairs.append((item["t"], Record(item["topic"], item["key"], item["value"])))
    return pairs


def scenario_records() -> list[Record]:
    return [record for _, record in load_replay()]


def snapshot(
    incident_id: str,
    seq: int = 1,
    *,
    severity: str = "SEV2",
    title: str | None = None,
    customers: int = 1000,
    status: str = "open",
    opened_minutes_ago: float = 10,
    services: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    root_causes: list[str] | None = None,
    acknowledged_by: str | None = None,
) -> dict[str, Any]:
    """An incident snapshot with every field of DESIGN §6."""
    services = services or [
        {
            "id": "checkout",
            "name": "Checkout",
            "tier": 1,
            "impact": 0.5,
            "state": "partial",
            "owner": "team-payments",
        }
    ]
    components = components or [
        {
            "id": f"{incident_id}-db",
            "kind": "database",
            "state": "down",
            "root_cause": True,
            "owner": "team-data",
            "runbook": "https://wiki.example/db",
            "alert_count": 1,
            "alerts": [
                {
                    "fingerprint": f"fp-{incident_id}",
                    "severity": "critical",
                    "summary": f"{incident_id} database unreachable",
                    "starts_at": at(opened_minutes_ago),
                }
            ],
        }
    ]
    return {
        "schema": 1,
        "id": incident_id,
        "seq": seq,
        "status": status,
        "merged_into": None,
        "severity": severity,
        "title": title or f"checkout partly down — {customers:,} customers affected",
        "opened_at": at(opened_minutes_ago),
        "updated_at": at(0),
        "resolved_at": at(0) if status == "resolved" else None,
        "as_of": at(0),
        "customers_affected": customers,
        "customers_degraded": 0,
        "peak_customers_affected": customers,
        "peak_severity": severity,
        "segments": [
            {"id": "shoppers-eu", "customers": 120000, "affected": customers, "degraded": 0}
        ],
        "business_services": services,
        "root_causes": root_causes if root_causes is not None else [components[0]["id"]],
        "components": components,
        "alert_count": sum(int(c.get("alert_count", 0)) for c in components),
        "estimated": False,
        "acknowledged_by": acknowledged_by,
        "acknowledged_at": at(0) if acknowledged_by else None,
        "topology": {"name": "acme-shop", "version": "sha256:test"},
    }


def incident(snap: dict[str, Any]) -> Record:
    return Record(TOPIC_INCIDENTS, snap["id"], snap)


def summary(
    customers_affected: int = 1000,
    *,
    minutes_ago: float = 0,
    lag: float = 1.5,
    stale_sources: list[str] | None = None,
    customers_total: int = 400000,
) -> Record:
    return Record(
        TOPIC_IMPACT_SUMMARY,
        "summary",
        {
            "schema": 1,
            "as_of": at(minutes_ago),
            "customers_total": customers_total,
            "customers_affected": customers_affected,
            "customers_degraded": 0,
            "estimated": False,
            "segments": [],
            "unattached_problems": [],
            "stale_sources": stale_sources or [],
            "ingest_lag_seconds": lag,
        },
    )


def service(
    service_id: str, state: str, impact: float, customers: int, incidents: list[str]
) -> Record:
    return Record(
        TOPIC_SERVICE_IMPACT,
        service_id,
        {
            "schema": 1,
            "id": service_id,
            "name": service_id.replace("-", " ").title(),
            "tier": 1,
            "state": state,
            "impact": impact,
            "customers_affected": customers,
            "customers_degraded": 0,
            "incidents": incidents,
            "as_of": at(0),
        },
    )


def unmapped(labels: dict[str, str], fingerprint: str, summary_text: str = "") -> Record:
    return Record(
        TOPIC_ALERTS_UNMAPPED,
        fingerprint,
        {
            "schema": 1,
            "alert": {
                "fingerprint": fingerprint,
                "status": "firing",
                "severity": "warning",
                "labels": labels,
                "annotations": {},
                "summary": summary_text,
                "starts_at": at(1),
                "ends_at": None,
                "source": "alertmanager",
                "received_at": at(1),
            },
            "tried": sorted(labels),
        },
    )
