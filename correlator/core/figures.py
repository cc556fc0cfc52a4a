"""The evaluator's output values: figures per business service and segment, and an evaluation.

Pure data. `correlator.core.evaluator` computes them; incidents, presentation and the stream
read them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Literal

ProblemState = Literal["down", "degraded"]
ServiceState = Literal["down", "partial", "degraded", "ok"]

ZERO = Fraction(0)
ONE = Fraction(1)


def round_half_up(value: Fraction) -> int:
    """Customers are whole people: round half up, exactly."""
    return math.floor(value + Fraction(1, 2))


@dataclass(frozen=True, slots=True)
class ServiceFigure:
    """A business service's figures: weights of combinations where it is down / only degraded."""

    id: str
    impact: Fraction
    degraded: Fraction

    @property
    def state(self) -> ServiceState:
        if self.impact == ONE:
            return "down"
        if self.impact > 0:
            return "partial"
        if self.degraded > 0:
            return "degraded"
        return "ok"


@dataclass(frozen=True, slots=True)
class SegmentFigure:
    """A segment's figures; `critical_weight` counts only tier-1/2 services (for severity).

    `affected` and `degraded` are whole customers: affected rounded half up; degraded rounded
    as the complement, so 333 customers split in halves never become 167 + 167.
    """

    id: str
    customers: int
    affected_weight: Fraction
    degraded_weight: Fraction
    critical_weight: Fraction
    affected: int = 0
    degraded: int = 0

    @classmethod
    def of(
        cls, id: str, customers: int, affected: Fraction, degraded: Fraction, critical: Fraction
    ) -> SegmentFigure:
        whole = round_half_up(customers * affected)
        both = round_half_up(customers * (affected + degraded))
        return cls(id, customers, affected, degraded, critical, whole, both - whole)


@dataclass(frozen=True)
class Evaluation:
    """The outcome for one set of problems. Services and segments not listed are ok."""

    problems: Mapping[str, ProblemState]
    services: Mapping[str, ServiceFigure]
    segments: Mapping[str, SegmentFigure]
    estimated: bool
    down_reach: Mapping[str, frozenset[str]] = field(default_factory=dict)
    degraded_reach: Mapping[str, frozenset[str]] = field(default_factory=dict)
    root_causes: frozenset[str] = frozenset()
    serial: int = field(default=0, compare=False)
    """Unique per evaluation (0: not from an evaluator)."""
    previous_serial: int = field(default=-1, compare=False)
    """The evaluation `services_changed` is relative to (the evaluator's previous one)."""
    services_changed: frozenset[str] = field(default=frozenset(), compare=False)
    """Services whose figure differs from evaluation `previous_serial`'s (appeared, changed or
    gone): lets a consumer of consecutive evaluations skip comparing every service."""
    segments_changed: frozenset[str] = field(default=frozenset(), compare=False)
    """Segments whose figure differs from evaluation `previous_serial`'s, likewise."""

    @cached_property
    def customers_affected(self) -> int:
        return sum(s.affected for s in self.segments.values())

    @cached_property
    def customers_degraded(self) -> int:
        return sum(s.degraded for s in self.segments.values())

    def impacted_services(self) -> list[str]:
        """Ids of services that are not ok."""
        return [sid for sid, f in self.services.items() if f.state != "ok"]


EMPTY = Evaluation(problems={}, services={}, segments={}, estimated=False)
