"""An incident's state between steps, the tracker's settings and what one step publishes."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from correlator.core.alerts import Alert
from correlator.core.evaluator import Evaluator, ReachSearch
from correlator.core.figures import ProblemState
from correlator.core.health import ComponentHealth
from correlator.core.snapshot import (
    ComponentEntry,
    ImpactSummary,
    IncidentEvent,
    IncidentSeverity,
    IncidentSnapshot,
    IncidentStatus,
    ServiceEntry,
    ServiceImpact,
)
from correlator.core.timefmt import MINUTE, Millis


@dataclass(frozen=True, slots=True)
class IncidentSettings:
    """Tunables of correlation (DESIGN §6 defaults)."""

    resolve_after: Millis = 0
    retention: Millis = 7 * 24 * 60 * MINUTE
    """Resolved and merged incidents are tombstoned on `incidents` (and forgotten) this long
    after they ended; the history database keeps them."""
    reopen_window: Millis = 10 * MINUTE
    sev1_fraction: Fraction = Fraction(1, 10)
    combination_bound: int = 4096
    seed: int = 0


ServiceKey = tuple[float, float, int, int]
"""Where a business service sits in an incident's list: most affected first (see publication)."""


@dataclass(slots=True)
class ServiceOrder:
    """An incident's service entries sorted by their keys, as of evaluation `serial`."""

    serial: int
    keys: list[ServiceKey]
    entries: list[ServiceEntry]
    key_of: dict[str, ServiceKey]
    published: tuple[ServiceEntry, ...]


@dataclass(slots=True)
class RootOrder:
    """An incident's root causes sorted by what each accounts for alone (`weights`), with the
    problem state each weight was taken at (`states`)."""

    states: dict[str, ProblemState]
    weights: dict[str, tuple[int, int, int]]
    order: list[str]


@dataclass(slots=True)
class ComponentList:
    """An incident's component entries in file order, kept from step to step: a storm's
    incident has thousands of members and a step changes a few."""

    places: list[int] = field(default_factory=list)
    """Each entry's place in the topology file (ascending)."""
    entries: list[ComponentEntry] = field(default_factory=list)
    alerts: int = 0
    """Their alert counts summed."""
    roots: frozenset[str] | None = None
    """The root causes they were built with (None: build them all again)."""


@dataclass(slots=True)
class Incident:
    """One incident's state between steps (its last snapshot is what was published)."""

    id: str
    opened_at: Millis
    status: IncidentStatus = "open"
    members: set[str] = field(default_factory=set)
    seq: int = 0
    updated_at: Millis = 0
    resolved_at: Millis | None = None
    merged_into: str | None = None
    pending_since: Millis | None = None
    last_reach: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    snapshot: IncidentSnapshot | None = None
    severity: IncidentSeverity = "SEV4"
    peak_customers: int = 0
    peak_severity: IncidentSeverity = "SEV4"
    ack_by: str | None = None
    ack_at: Millis | None = None
    last_components: tuple[ComponentEntry, ...] = ()
    last_root_causes: tuple[str, ...] = ()
    title: str = ""
    evaluator: Evaluator | None = None
    """Evaluates this incident's own problems, each step from the last."""
    search: ReachSearch | None = None
    """The search behind its down-reach, continued step after step."""
    search_union: frozenset[str] = frozenset()
    search_joined: set[str] = field(default_factory=set)
    """Members that joined since that search."""
    search_left: bool = False
    """A member left since that search (it starts over)."""
    bad_search: ReachSearch | None = None
    """The search behind its degraded-reach (while its down-reach is empty)."""
    bad_union: frozenset[str] = frozenset()
    dirty: bool = True
    """Something its snapshot is built from changed since it was last built."""
    services_sorted: tuple[str, ...] = ()
    root_order: RootOrder | None = None
    """Its root causes in published order: updated by the roots that came, went or changed
    state, not sorted again each step (see publication.py)."""
    service_order: ServiceOrder | None = None
    """Its business-service entries in published order, and the evaluation they are of:
    updated by the services that evaluation changed, not sorted again (see publication.py)."""
    listed: ComponentList = field(default_factory=lambda: ComponentList())
    """Its component entries as last built."""
    problems: dict[str, ProblemState] | None = None
    """Its problems at its last evaluation (None: not kept)."""
    unevaluated: set[str] = field(default_factory=set)
    """Members that joined, left or whose health changed since it was last built."""

    @property
    def active(self) -> bool:
        return self.status == "open"

    @classmethod
    def from_snapshot(cls, snap: IncidentSnapshot) -> Incident:
        """The incident as its last published snapshot left it (members are added after)."""
        memberless_open = snap.status == "open" and not any(
            c.state != "healthy" for c in snap.components
        )
        return cls(
            id=snap.id,
            opened_at=snap.opened_at,
            status=snap.status,
            seq=snap.seq,
            updated_at=snap.updated_at,
            resolved_at=snap.resolved_at,
            merged_into=snap.merged_into,
            pending_since=snap.updated_at if memberless_open else None,
            last_reach=frozenset(s.id for s in snap.business_services if s.impact > 0)
            or frozenset(s.id for s in snap.business_services),
            services=frozenset(s.id for s in snap.business_services),
            snapshot=snap,
            severity=snap.severity,
            peak_customers=snap.peak_customers_affected,
            peak_severity=snap.peak_severity,
            ack_by=snap.acknowledged_by,
            ack_at=snap.acknowledged_at,
            last_components=snap.components,
            last_root_causes=snap.root_causes,
            title=snap.title,
        )


@dataclass(slots=True)
class StepResult:
    """Everything one step of the impact stage publishes."""

    events: list[IncidentEvent] = field(default_factory=list)
    services: list[ServiceImpact] = field(default_factory=list)
    summary: ImpactSummary | None = None
    health: list[ComponentHealth] = field(default_factory=list)
    unmapped: list[UnmappedAlert] = field(default_factory=list)
    tombstones: list[str] = field(default_factory=list)
    """Ids of ended incidents past retention: deleted from the compacted `incidents` topic."""

    def extend(self, other: StepResult) -> None:
        """Append `other`'s outputs (a later step) to this one."""
        self.events.extend(other.events)
        self.services.extend(other.services)
        self.summary = other.summary or self.summary
        self.health.extend(other.health)
        self.unmapped.extend(other.unmapped)
        self.tombstones.extend(other.tombstones)


@dataclass(frozen=True, slots=True)
class UnmappedAlert:
    """An alert about no known component: a topology gap, never dropped silently."""

    alert: Alert
    tried: tuple[tuple[str, str], ...]
