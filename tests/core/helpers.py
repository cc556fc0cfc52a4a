"""Shared builders for the core tests: topologies from dicts, canonical alerts at given times."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from correlator.core.alerts import Alert, AlertSeverity
from correlator.core.figures import ProblemState
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


def problem_steps(
    components: Sequence[str], *, max_size: int, max_steps: int
) -> st.SearchStrategy[list[dict[str, str]]]:
    """Hypothesis: two or more steps, each setting some components down, degraded or healthy."""
    return st.lists(
        st.dictionaries(
            st.sampled_from(components),
            st.sampled_from(["down", "degraded", "healthy"]),
            min_size=1,
            max_size=max_size,
        ),
        min_size=2,
        max_size=max_steps,
    )


def apply_step(problems: dict[str, ProblemState], step: Mapping[str, str]) -> None:
    """One step of `problem_steps` applied to a problem set (healthy ones leave it)."""
    for component, state in step.items():
        if state == "healthy":
            problems.pop(component, None)
        else:
            problems[component] = state  # type: ignore[assignment]
