"""How an incident reads: severity, title, segment figures, grouping of degraded-only problems.

Pure functions over evaluations, split from `incidents.py` (which keeps the state machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction

from correlator.core.figures import Evaluation, SegmentFigure
from correlator.core.snapshot import (
    ComponentEntry,
    IncidentSeverity,
    IncidentSnapshot,
    SegmentImpact,
    ServiceEntry,
)
from correlator.core.topology import Topology


def severity_of(topology: Topology, ev: Evaluation, sev1_fraction: Fraction) -> IncidentSeverity:
    """SEV1: a tier-1 service fully down, or tier-1/2 customers at `sev1_fraction` of all;
    SEV2: any customers cut off through tier-1/2; SEV3: through tier-3/4 only; else SEV4."""
    if any(f.impact == 1 and topology.nodes[sid].tier == 1 for sid, f in ev.services.items()):
        return "SEV1"
    critical = sum((s.customers * s.critical_weight for s in ev.segments.values()), Fraction())
    total = topology.customers_total
    if critical > 0 and total > 0 and critical >= sev1_fraction * total:
        return "SEV1"
    if critical > 0:
        return "SEV2"
    if any(s.customers * s.affected_weight > 0 for s in ev.segments.values()):
        return "SEV3"
    return "SEV4"


def segment_impact(topology: Topology, figure: SegmentFigure) -> SegmentImpact | None:
    """A segment's published figures; None when nobody in it is affected or degraded."""
    if figure.affected == 0 and figure.degraded == 0:
        return None
    segment = topology.segment_by_id[figure.id]
    return SegmentImpact(
        segment.id, segment.name, segment.customers, figure.affected, figure.degraded
    )


def segment_order(impact: SegmentImpact) -> tuple[int, int, str]:
    """Most affected first, then most degraded, then by id."""
    return (-impact.affected, -impact.degraded, impact.id)


def overlapping_groups(problems: list[str], reach: Mapping[str, frozenset[str]]) -> list[list[str]]:
    """Partition problems into groups whose reaches overlap (transitively), in input order."""
    groups: list[tuple[list[str], set[str]]] = []
    for p in problems:
        r = set(reach.get(p, frozenset()))
        hits = [g for g in groups if g[1] & r]
        if not hits:
            groups.append(([p], r))
            continue
        first = hits[0]
        first[0].append(p)
        first[1].update(r)
        for other in hits[1:]:
            first[0].extend(other[0])
            first[1].update(other[1])
            groups.remove(other)
    return [g[0] for g in groups]


_STATE_PHRASE = {"down": "down", "partial": "partly down", "degraded": "degraded", "ok": "ok"}


def incident_title(
    topology: Topology,
    services: tuple[ServiceEntry, ...],
    affected: int,
    degraded: int,
    roots: tuple[str, ...],
    components: tuple[ComponentEntry, ...],
) -> str:
    if services:
        head = services[0]
        what = head.name
        if len(services) > 1:
            what += f" and {len(services) - 1} more service{'s' if len(services) > 2 else ''}"
        what += f" {_STATE_PHRASE[head.state]}"
    else:
        what = ", ".join(c.id for c in components[:3]) + " in trouble"
    if affected:
        figures = f"{affected:,} customers affected"
    elif degraded:
        figures = f"{degraded:,} customers degraded"
    else:
        figures = "no customers affected yet"
    if roots:
        label = "root cause" if len(roots) == 1 else "root causes"
        shown = ", ".join(roots[:3]) + (f" +{len(roots) - 3} more" if len(roots) > 3 else "")
        return f"{what} — {figures} ({label}: {shown})"
    return f"{what} — {figures}"


def comparable(snapshot: IncidentSnapshot) -> IncidentSnapshot:
    """A snapshot as its JSON record shows it: impacts to 6 decimals, no per-publication fields."""
    services = tuple(
        replace(s, impact=Fraction(str(round(float(s.impact), 6))))
        for s in snapshot.business_services
    )
    return replace(snapshot.material(), business_services=services)
