"""Past the combination bound the figures are sampled deterministically and marked estimated."""

from __future__ import annotations

from typing import Any

from correlator.core.evaluator import Evaluator
from tests.core.helpers import topology

DIVISIONS = 13  # 2**13 = 8,192 combinations > the default bound of 4,096


def _doc() -> dict[str, Any]:
    components: list[dict[str, Any]] = [
        {
            "id": "api",
            "depends_on": [
                {"split": {"by": f"d{i}", "members": {"x": f"x{i}", "y": f"y{i}"}}}
                for i in range(DIVISIONS)
            ],
        }
    ]
    for i in range(DIVISIONS):
        components += [{"id": f"x{i}"}, {"id": f"y{i}"}]
    return {
        "apiVersion": "correlator/v1",
        "name": "many-divisions",
        "divisions": [{"id": f"d{i}", "shares": {"x": 0.1, "y": 0.9}} for i in range(DIVISIONS)],
        "segments": [{"id": "all", "customers": 1_000_000, "uses": ["svc"]}],
        "business_services": [{"id": "svc", "tier": 1, "depends_on": ["api"]}],
        "components": components,
    }


TOPO = topology(_doc())
PROBLEMS = {f"x{i}": "down" for i in range(DIVISIONS)}
EXACT = 1 - 0.9**DIVISIONS  # down unless in y of every division


def test_within_the_bound_the_figures_are_exact() -> None:
    result = Evaluator(TOPO, bound=2**DIVISIONS).evaluate(PROBLEMS)
    assert not result.estimated
    assert abs(float(result.services["svc"].impact) - EXACT) < 1e-12


def test_past_the_bound_the_figures_are_sampled_and_marked() -> None:
    result = Evaluator(TOPO).evaluate(PROBLEMS)
    assert result.estimated
    assert abs(float(result.services["svc"].impact) - EXACT) < 0.03


def test_sampling_is_deterministic() -> None:
    first = Evaluator(TOPO).evaluate(PROBLEMS)
    second = Evaluator(TOPO).evaluate(PROBLEMS)
    assert first.services == second.services and first.segments == second.segments


def test_few_active_divisions_stay_exact_even_in_a_big_topology() -> None:
    result = Evaluator(TOPO).evaluate({"x0": "down", "x1": "down"})
    assert not result.estimated
    assert result.customers_affected == 190_000  # 1 - 0.9 * 0.9
