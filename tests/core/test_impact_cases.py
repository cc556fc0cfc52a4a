"""Data-driven impact cases: each file in cases/impact is a topology and problem sets with the
expected service states, impacts and customer figures (DESIGN §5)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from correlator.core.evaluator import Evaluator
from tests.core.helpers import topology

CASES = Path(__file__).parent / "cases" / "impact"


def _load() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        topo = topology(doc["topology"])
        for case in doc["cases"]:
            params.append(pytest.param(topo, case, id=f"{path.stem}: {case['name']}"))
    return params


@pytest.mark.parametrize(("topo", "case"), _load())
def test_impact_case(topo: Any, case: dict[str, Any]) -> None:
    result = Evaluator(topo).evaluate(case["problems"])
    expect = case["expect"]
    services = {
        sid: [
            result.services[sid].state if sid in result.services else "ok",
            result.services[sid].impact if sid in result.services else Fraction(0),
        ]
        for sid in expect.get("services", {})
    }
    wanted = {sid: [v[0], Fraction(str(v[1]))] for sid, v in expect.get("services", {}).items()}
    assert services == wanted
    if "segments" in expect:
        segments = {
            sid: [result.segments[sid].affected, result.segments[sid].degraded]
            for sid in expect["segments"]
        }
        assert segments == expect["segments"]
    if "customers_affected" in expect:
        assert result.customers_affected == expect["customers_affected"]
    if "customers_degraded" in expect:
        assert result.customers_degraded == expect["customers_degraded"]
    assert not result.estimated
