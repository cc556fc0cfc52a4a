"""Incident snapshots and the other impact outputs, as core values (DESIGN §6).

These are frozen core types; `correlator.wire` turns them into the JSON records of the topics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Literal

from correlator.core.figures import ServiceState
from correlator.core.health import AlertBrief
from correlator.core.timefmt import Millis

IncidentSeverity = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
"""How bad an incident is (alerts have `AlertSeverity`: critical, warning, info)."""
IncidentStatus = Literal["open", "resolved", "merged"]
EventType = Literal[
    "incident.opened",
    "incident.updated",
    "incident.acknowledged",
    "incident.resolved",
    "incident.reopened",
    "incident.merged",
]

SEVERITY_ORDER: dict[str, int] = {"SEV1": 1, "SEV2": 2, "SEV3": 3, "SEV4": 4}


def worse(a: IncidentSeverity, b: IncidentSeverity) -> IncidentSeverity:
    """The more severe of two severities (SEV1 is the worst)."""
    return a if SEVERITY_ORDER[a] <= SEVERITY_ORDER[b] else b


@dataclass(frozen=True, slots=True)
class SegmentImpact:
    id: str
    name: str
    customers: int
    affected: int
    degraded: int


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    id: str
    name: str
    tier: int
    impact: Fraction
    state: ServiceState
    owner: str | None


@dataclass(frozen=True, slots=True)
class ComponentEntry:
    id: str
    name: str
    kind: str
    state: str
    root_cause: bool
    owner: str | None
    runbook: str | None
    alert_count: int
    alerts: tuple[AlertBrief, ...]


@dataclass(frozen=True, slots=True)
class IncidentSnapshot:
    """The full state of one incident: the value on `incidents` and inside every event."""

    id: str
    seq: int
    status: IncidentStatus
    merged_into: str | None
    severity: IncidentSeverity
    title: str
    opened_at: Millis
    updated_at: Millis
    resolved_at: Millis | None
    as_of: Millis
    customers_affected: int
    customers_degraded: int
    peak_customers_affected: int
    peak_severity: IncidentSeverity
    segments: tuple[SegmentImpact, ...]
    business_services: tuple[ServiceEntry, ...]
    root_causes: tuple[str, ...]
    components: tuple[ComponentEntry, ...]
    alert_count: int
    estimated: bool
    acknowledged_by: str | None
    acknowledged_at: Millis | None
    topology_name: str
    topology_version: str
    planned: bool = False
    """Every root cause is covered by a maintenance window (DESIGN §6, planned work)."""

    def material(self) -> IncidentSnapshot:
        """The snapshot without the fields that change on every publication."""
        return replace(self, seq=0, updated_at=0, as_of=0)


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One change of one incident's snapshot."""

    type: EventType
    seq: int
    at: Millis
    incident: IncidentSnapshot


@dataclass(frozen=True, slots=True)
class ServiceImpact:
    """The value on `service.impact` (key: business service id)."""

    id: str
    name: str
    tier: int
    state: ServiceState
    impact: Fraction
    customers_affected: int
    customers_degraded: int
    incidents: tuple[str, ...]
    as_of: Millis

    def material(self) -> tuple[object, ...]:
        """Everything but `as_of`: what makes a new record worth publishing."""
        return (
            self.state,
            self.impact,
            self.customers_affected,
            self.customers_degraded,
            self.incidents,
            self.name,
            self.tier,
        )


@dataclass(frozen=True, slots=True)
class ImpactSummary:
    """The value on `impact.summary`: the global figures."""

    as_of: Millis
    customers_total: int
    customers_affected: int
    customers_degraded: int
    estimated: bool
    segments: tuple[SegmentImpact, ...]
    unattached_problems: tuple[str, ...]
    stale_sources: tuple[str, ...]
    open_incidents: int
    customers_affected_planned: int = 0
    """Of `customers_affected`, those cut off only by planned incidents."""

    def material(self) -> ImpactSummary:
        return replace(self, as_of=0)
