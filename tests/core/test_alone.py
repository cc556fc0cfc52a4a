"""`alone_figures` (many roots evaluated alone in one pass) equals evaluating each alone."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks._mesh import generate_mesh
from correlator.core.alone import alone_figures, alone_figures_of
from correlator.core.evaluator import Evaluator
from correlator.core.figures import ProblemState
from correlator.core.topology import Topology
from correlator.core.topology_parse import parse_topology
from tests.core.test_properties import COMPONENTS, LARGE, LARGE_COMPONENTS, TOPO


def one_by_one(topology: Topology, roots: dict[str, ProblemState]) -> dict[str, tuple[int, int]]:
    out = {}
    for root, state in roots.items():
        ev = Evaluator(topology).evaluate({root: state})
        out[root] = (ev.customers_affected, ev.customers_degraded)
    return out


def exact_here(topology: Topology, root: str) -> bool:
    """No member of a split entry depends on `root` (or is it): alone, it touches no division."""
    split_members = {
        m
        for node in topology.nodes.values()
        for e in node.entries
        if e.kind == "split"
        for m in e.members
    }
    return not (topology.upstream([root]) & split_members)


roots_strategy = st.dictionaries(
    st.sampled_from(COMPONENTS), st.sampled_from(["down", "degraded"]), min_size=1
)


@settings(max_examples=150, deadline=None)
@given(roots_strategy)
def test_alone_figures_equal_one_evaluation_per_root(roots: dict[str, ProblemState]) -> None:
    """Every dependency kind, divisions and a cycle: the roots it answers for get the figures
    the evaluator gives each alone, and it answers for exactly the roots that touch no split."""
    got = alone_figures(TOPO, roots)
    assert set(got) == {r for r in roots if exact_here(TOPO, r)}
    want = one_by_one(TOPO, roots)
    assert got == {r: want[r] for r in got}


def test_alone_figures_at_scale() -> None:
    """300 roots on a 1,500-component synthetic topology (three divisions, cycles, quorums)."""
    rng = random.Random(5)
    states: list[ProblemState] = ["down", "degraded"]
    roots = {c: rng.choice(states) for c in rng.sample(LARGE_COMPONENTS, 300)}
    got = alone_figures(LARGE, roots)
    eligible = {r for r in roots if exact_here(LARGE, r)}
    assert set(got) == eligible
    assert len(eligible) > 100  # most roots are answered in the one pass
    want = one_by_one(LARGE, {r: roots[r] for r in eligible})
    assert got == want
    assert any(a > 0 for a, _ in got.values()) and any(d > 0 for _, d in got.values())


def test_alone_figures_of_one_root_at_a_time() -> None:
    """One root per call (a storm adds one root per step): the same figures, the same roots
    answered."""
    rng = random.Random(8)
    for root in rng.sample(LARGE_COMPONENTS, 120):
        state: ProblemState = rng.choice(["down", "degraded"])
        got = alone_figures(LARGE, {root: state})
        if exact_here(LARGE, root):
            assert got == one_by_one(LARGE, {root: state})
        else:
            assert got == {}


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(COMPONENTS), st.sampled_from(["down", "degraded"]), st.sampled_from([4096, 3])
)
def test_one_root_with_its_combinations_equals_the_evaluator(
    root: str, state: ProblemState, bound: int
) -> None:
    """One root alone, split members and divisions included: the evaluator's figures, or None
    when it would sample (more combinations than `bound`)."""
    got = alone_figures_of(TOPO, root, state, bound)
    ev = Evaluator(TOPO, bound=bound).evaluate({root: state})
    if got is None:
        assert bound == 3 or ev.estimated
    else:
        assert got == (ev.customers_affected, ev.customers_degraded)


def test_one_root_with_its_combinations_at_scale() -> None:
    """Every root kind of a 1,500-component synthetic topology (three divisions, cycles): the
    same figures as the evaluator, also for roots whose upstream reaches split members."""
    rng = random.Random(13)
    through_splits = 0
    for root in rng.sample(LARGE_COMPONENTS, 150):
        state: ProblemState = rng.choice(["down", "degraded"])
        got = alone_figures_of(LARGE, root, state, 4096)
        ev = Evaluator(LARGE).evaluate({root: state})
        assert got == (ev.customers_affected, ev.customers_degraded), root
        through_splits += not exact_here(LARGE, root)
    assert through_splits > 20  # the case the one-pass worlds leave out is well covered


MESH = parse_topology(generate_mesh(1_200, seed=3), "mesh-1200")
MESH_COMPONENTS = [n.id for n in MESH.components]


def test_one_root_on_a_layered_mesh_equals_the_evaluator() -> None:
    """Another shape (`benchmarks/_mesh.py`: deep, densely connected, splits by region and by
    shard on the business services): the figures found from each node's closure are the
    evaluator's."""
    rng = random.Random(21)
    for root in rng.sample(MESH_COMPONENTS, 80):
        state: ProblemState = rng.choice(["down", "degraded"])
        got = alone_figures_of(MESH, root, state, 4096)
        ev = Evaluator(MESH).evaluate({root: state})
        assert got == (ev.customers_affected, ev.customers_degraded), root


CYCLE_THROUGH_SPLIT = parse_topology(
    {
        "apiVersion": "correlator/v1",
        "name": "cycle-through-split",
        "divisions": [{"id": "cell", "name": "Cell", "shares": {"a": 0.5, "b": 0.25, "c": 0.25}}],
        "segments": [
            {"id": "everyone", "name": "Everyone", "customers": 1000, "uses": ["shop", "pay"]}
        ],
        "business_services": [
            {"id": "shop", "name": "Shop", "tier": 1, "depends_on": ["router"]},
            {"id": "pay", "name": "Pay", "tier": 1, "depends_on": [{"soft": ["ledger"]}]},
        ],
        "components": [
            {"id": "db-a", "kind": "database"},
            {"id": "db-b", "kind": "database"},
            {"id": "db-c", "kind": "database"},
            # router -> split of cells -> app-a -> router: a cycle through a split entry
            {
                "id": "router",
                "kind": "service",
                "depends_on": [
                    {"split": {"by": "cell", "members": {"a": "app-a", "b": "db-b", "c": "db-c"}}}
                ],
            },
            {"id": "app-a", "kind": "service", "depends_on": ["db-a", {"soft": ["router"]}]},
            {"id": "ledger", "kind": "service", "depends_on": ["router"]},
        ],
    },
    "cycle-through-split",
)


@pytest.mark.parametrize("root", ["db-a", "db-b", "app-a", "router", "ledger"])
@pytest.mark.parametrize("state", ["down", "degraded"])
def test_a_cycle_through_a_split_entry_still_gets_the_evaluators_figures(
    root: str, state: ProblemState
) -> None:
    """The closures cannot be used when a cycle runs through a split entry: the pass over the
    root's upstream answers instead, with the same figures."""
    got = alone_figures_of(CYCLE_THROUGH_SPLIT, root, state, 4096)
    ev = Evaluator(CYCLE_THROUGH_SPLIT).evaluate({root: state})
    assert got == (ev.customers_affected, ev.customers_degraded)
    assert got != (0, 0) or root == "ledger"
