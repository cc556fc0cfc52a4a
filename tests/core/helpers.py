"""Shared builders for the core tests: topologies from dicts, canonical alerts at given times."""

from __future__ import annotations

from typing import Any

from correlator.core.alerts import Alert, AlertSeverity
from correlator.core.topology import Topology
from correlator.core.topology_parse import parse_topology

T0 = 1_790_000_000_000  # 2026-09-21T…Z, an arbitrary fixed event time
SEC = 1000


def topology(doc: dict[str, Any]) -> Topology:
    return parse_topology(doc, "test")


def firing(
    component: str,
    at: int,
    severity: AlertSeverity = "critical",
    fp: str | None = None,
    summary: str = "",
) -> Alert:
    return Alert(
        fingerprint=fp or f"{component}-{severity}",
        status="firing",
        severity=severity,
        labels={"alertname": "Test", "component": component},
        received_at=at,
        starts_at=at,
        summary=summary or f"{component} {severity}",
    )


def resolved(
    component: str, at: int, severity: AlertSeverity = "critical", fp: str | None = None
) -> Alert:
    return Alert(
        fingerprint=fp or f"{component}-{severity}",
        status="resolved",
        severity=severity,
        labels={"alertname": "Test", "component": component},
        received_at=at,
        ends_at=at,
        summary=f"{component} {severity}",
    )
