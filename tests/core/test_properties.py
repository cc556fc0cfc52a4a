"""Hypothesis properties of the impact model and the engine (DESIGN §5–7)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from correlator.core.alerts import alert_to_dict
from correlator.core.engine import Engine
from correlator.core.evaluator import Evaluator
from correlator.core.figures import Evaluation, ProblemState
from correlator.core.topology_parse import parse_topology
from correlator.replay import RawInput, Replay
from correlator.synthetic import generate_topology
from correlator.wire import event_to_dict
from tests.core.helpers import SEC, T0, apply_step, firing, problem_steps, resolved, topology
from tests.core.reference_impact import Evaluator as ReferenceEvaluator

# A topology with every dependency kind, two named divisions, an anonymous split and a cycle.
DOC: dict[str, Any] = {
    "apiVersion": "correlator/v1",
    "name": "props",
    "divisions": [
        {"id": "cell", "shares": {"c1": 0.5, "c2": 0.3, "c3": 0.2}},
        {"id": "region", "shares": ["eu", "us"]},
    ],
    "segments": [
        {"id": "a", "customers": 1000, "uses": ["web", "pay"]},
        {"id": "b", "customers": 333, "uses": ["pay"]},
        {"id": "c", "customers": 7, "uses": ["report", "web"]},
    ],
    "business_services": [
        {"id": "web", "tier": 1, "depends_on": ["front"]},
        {"id": "pay", "tier": 2, "depends_on": ["front", "payments"]},
        {"id": "report", "tier": 3, "depends_on": ["reporting"]},
    ],
    "components": [
        {"id": "front", "depends_on": ["api", {"soft": ["ads"]}, {"any": ["lb-1", "lb-2"]}]},
        {
            "id": "api",
            "depends_on": [
                {"split": {"by": "cell", "members": {"c1": "db-1", "c2": "db-2", "c3": "db-3"}}},
                {"quorum": 2, "of": ["zk-1", "zk-2", "zk-3"]},
            ],
        },
        {
            "id": "payments",
            "depends_on": [
                {
                    "split": {
                        "by": "cell",
                        "members": {"c1": "ledger-1", "c2": "ledger-2", "c3": "ledger-3"},
                    }
                },
                {"split": {"by": "region", "members": {"eu": "psp-eu", "us": "psp-us"}}},
                "api",
            ],
        },
        {"id": "reporting", "depends_on": [{"split": ["db-1", "warehouse"]}, "etl"]},
        {"id": "etl", "depends_on": ["reporting"]},
        *(
            {"id": c}
            for c in [
                "ads",
                "lb-1",
                "lb-2",
                "db-1",
                "db-2",
                "db-3",
                "zk-1",
                "zk-2",
                "zk-3",
                "ledger-1",
                "ledger-2",
                "ledger-3",
                "psp-eu",
                "psp-us",
                "warehouse",
            ]
        ),
    ],
}
TOPO = topology(DOC)
COMPONENTS = [n.id for n in TOPO.components]
EVALUATOR = Evaluator(TOPO)

problem_sets = st.dictionaries(
    st.sampled_from(COMPONENTS), st.sampled_from(["down", "degraded"]), max_size=8
)


@settings(max_examples=150, deadline=None)
@given(problem_sets)
def test_impact_is_always_between_zero_and_one(problems: dict[str, ProblemState]) -> None:
    result = EVALUATOR.evaluate(problems)
    for figure in result.services.values():
        assert 0 <= figure.impact <= 1
        assert 0 <= figure.degraded <= 1 - figure.impact
    for segment in result.segments.values():
        assert 0 <= segment.affected + segment.degraded <= segment.customers
    assert 0 <= result.customers_affected <= TOPO.customers_total


@settings(max_examples=150, deadline=None)
@given(problem_sets, st.sampled_from(COMPONENTS))
def test_adding_a_failure_never_lowers_customers_affected(
    problems: dict[str, ProblemState], extra: str
) -> None:
    before = EVALUATOR.evaluate(problems)
    after = EVALUATOR.evaluate({**problems, extra: "down"})
    assert after.customers_affected >= before.customers_affected
    for sid, figure in before.services.items():
        assert after.services[sid].impact >= figure.impact


def _final_summary(alerts: list[Any]) -> dict[str, Any]:
    replay = Replay(TOPO)
    for alert in alerts:
        for _ in replay.feed(RawInput("t", orjson.dumps(alert_to_dict(alert)))):
            pass
    summary = replay.summary()
    # ids and seq may differ with order; the state may not
    return {
        "customers_affected": summary["customers_affected"],
        "customers_degraded": summary["customers_degraded"],
        "business_services": summary["business_services"],
        "unattached": sorted(summary["unattached_problems"]),
        "open": sorted(
            (sorted(i["root_causes"]), i["customers_affected"], i["severity"])
            for i in summary["open_incidents"]
        ),
    }


@settings(max_examples=60, deadline=None)
@given(st.permutations(COMPONENTS[:10]), st.data())
def test_final_summary_does_not_depend_on_order_of_alerts_about_different_components(
    order: list[str], data: st.DataObject
) -> None:
    chosen = order[: data.draw(st.integers(1, 6))]
    severities = {c: data.draw(st.sampled_from(["critical", "warning"])) for c in chosen}
    alerts = [firing(c, T0 + SEC, severities[c]) for c in chosen]  # same event time
    shuffled = data.draw(st.permutations(alerts))
    assert (
        _final_summary(alerts)["business_services"]
        == _final_summary(list(shuffled))["business_services"]
    )
    assert (
        _final_summary(alerts)["customers_affected"]
        == _final_summary(list(shuffled))["customers_affected"]
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(COMPONENTS), st.booleans()), max_size=15))
def test_replay_twice_gives_identical_bytes(steps: list[tuple[str, bool]]) -> None:
    alerts = [
        (firing if fire else resolved)(component, T0 + i * SEC)
        for i, (component, fire) in enumerate(steps)
    ]

    def run() -> bytes:
        engine = Engine(TOPO)
        out = b""
        for alert in alerts:
            for event in engine.ingest(alert).events:
                out += orjson.dumps(event_to_dict(event)) + b"\n"
        for event in engine.finish().events:
            out += orjson.dumps(event_to_dict(event)) + b"\n"
        return out

    assert run() == run()


def _plain(ev: Any) -> tuple[Any, ...]:
    """An evaluation as plain values (the reference implementation has its own classes)."""

    def figures(mapping: Any) -> dict[str, tuple[Any, ...]]:
        return {k: tuple(getattr(v, a) for a in v.__slots__) for k, v in mapping.items()}

    return (
        figures(ev.services),
        figures(ev.segments),
        ev.estimated,
        dict(ev.down_reach),
        dict(ev.degraded_reach),
        ev.root_causes,
    )


@settings(max_examples=80, deadline=None)
@given(st.lists(problem_sets, min_size=2, max_size=6), st.sampled_from([4096, 3, 5]))
def test_incremental_evaluation_equals_evaluation_from_scratch(
    steps: list[dict[str, ProblemState]], bound: int
) -> None:
    """The evaluator moves from each problem set to the next; a fresh one, and the first
    implementation (one evaluation per combination, tests/core/reference_impact.py), start
    from nothing. All three agree, sampled estimates (small bounds) included."""
    evaluator = Evaluator(TOPO, bound=bound)
    for problems in steps:
        incremental: Evaluation = evaluator.evaluate(problems, reach=True, root_causes=True)
        fresh = Evaluator(TOPO, bound=bound).evaluate(problems, reach=True, root_causes=True)
        reference = ReferenceEvaluator(TOPO, bound=bound).evaluate(
            problems, reach=True, root_causes=True
        )
        assert incremental == fresh
        assert _plain(incremental) == _plain(reference)


LARGE = parse_topology(generate_topology(1500, seed=11), "synthetic-1500")
LARGE_COMPONENTS = [n.id for n in LARGE.components]


def large_problems(min_size: int = 1) -> st.SearchStrategy[dict[str, ProblemState]]:
    """Hypothesis: up to 40 problems (down or degraded) on the 1,500-component topology."""
    return st.dictionaries(
        st.sampled_from(LARGE_COMPONENTS),
        st.sampled_from(["down", "degraded"]),
        min_size=min_size,
        max_size=40,
    )


@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        large_problems(),
        min_size=2,
        max_size=4,
    )
)
def test_incremental_equals_reference_at_scale(steps: list[dict[str, ProblemState]]) -> None:
    """The same on a 1,500-component synthetic topology (three divisions, cycles) with storms
    of up to 40 problems, growing and shrinking."""
    evaluator = Evaluator(LARGE)
    grown: dict[str, ProblemState] = {}
    for problems in steps:
        grown = {**grown, **problems} if len(grown) < 60 else problems
        incremental = evaluator.evaluate(grown, reach=True, root_causes=True)
        reference = ReferenceEvaluator(LARGE).evaluate(grown, reach=True, root_causes=True)
        assert _plain(incremental) == _plain(reference)


@settings(max_examples=12, deadline=None)
@given(problem_steps(LARGE_COMPONENTS, max_size=30, max_steps=5))
def test_told_what_changed_the_evaluator_gives_the_same(steps: list[dict[str, str]]) -> None:
    """`since_last` (the ids that may have changed) spares comparing every problem; the
    evaluations are those of an evaluator that compares them all."""
    told, compares = Evaluator(LARGE), Evaluator(LARGE)
    problems: dict[str, ProblemState] = {}
    for step in steps:
        apply_step(problems, step)
        got = told.evaluate(problems, reach=True, root_causes=True, since_last=set(step))
        want = compares.evaluate(dict(problems), reach=True, root_causes=True)
        assert _plain(got) == _plain(want)
        assert got.services_changed == want.services_changed
        assert got.segments_changed == want.segments_changed


@settings(max_examples=25, deadline=None)
@given(
    large_problems(),
    st.lists(
        st.frozensets(st.sampled_from([n.id for n in LARGE.business_services]), max_size=6),
        max_size=4,
    ),
)
def test_a_search_that_stops_early_answers_as_the_whole_reach(
    problems: dict[str, ProblemState], targets: list[frozenset[str]]
) -> None:
    """`cuts_off` (stops once it knows) agrees with the down-reach searched whole, for every
    problem, whether or not that reach was searched before."""
    stops, whole = Evaluator(LARGE), Evaluator(LARGE)
    stops.evaluate(problems, reach=True)
    ev = whole.evaluate(problems, reach=True)
    for p in problems:
        reach = ev.down_reach[p]
        want = (bool(reach), [not reach.isdisjoint(t) for t in targets])
        assert stops.cuts_off(p, targets) == want
        assert whole.cuts_off(p, targets) == want  # answered from the reach now cached


@settings(max_examples=40, deadline=None)
@given(
    large_problems(min_size=2),
    st.lists(st.lists(st.integers(0, 39), max_size=8), min_size=1, max_size=5),
    st.booleans(),
)
def test_a_continued_search_finds_what_a_search_from_scratch_finds(
    start: dict[str, ProblemState], steps: list[list[int]], down_only: bool
) -> None:
    """An incident's reach search is continued from one step to the next (only its new
    sources and what the last evaluation changed are looked at again); it reaches the same
    business services as a search started over while its problems worsen and get better
    (degraded and down in turn, the same components: no new region, so it is continued)."""
    evaluator = Evaluator(LARGE)
    problems = dict(start)
    ids = sorted(problems, key=LARGE.order.__getitem__)
    evaluator.evaluate(dict(problems), reach=True)
    previous = evaluator.search(set(problems), down_only)
    for step in steps:
        for i in step:
            c = ids[i % len(ids)]
            problems[c] = "degraded" if problems[c] == "down" else "down"
        evaluator.evaluate(dict(problems), reach=True)
        continued = evaluator.search(set(problems), down_only, previous)
        assert continued.services == evaluator.search(set(problems), down_only).services
        previous = continued


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(LARGE_COMPONENTS), min_size=3, max_size=40, unique=True),
    st.lists(st.tuples(st.integers(1, 6), st.integers(0, 39)), min_size=1, max_size=6),
    st.booleans(),
)
def test_a_search_told_which_sources_joined_finds_what_a_search_from_scratch_finds(
    order: list[str], steps: list[tuple[int, int]], down_only: bool
) -> None:
    """An incident that only gains members tells its search which joined (`added`), so its
    sources are not compared one by one: it still reaches what a search started over
    reaches, while members join and earlier ones worsen or get better."""
    evaluator = Evaluator(LARGE)
    joined = 1
    problems: dict[str, ProblemState] = {order[0]: "down"}
    evaluator.evaluate(dict(problems), reach=True)
    previous = evaluator.search(set(problems), down_only)
    for grow, flip in steps:
        new = order[joined : joined + grow]
        joined += len(new)
        for c in new:
            problems[c] = "down"
        c = order[flip % joined]
        problems[c] = "degraded" if problems[c] == "down" else "down"
        evaluator.evaluate(dict(problems), reach=True)
        continued = evaluator.search(set(problems), down_only, previous, added=set(new))
        assert continued.sources == set(problems)
        assert continued.services == evaluator.search(set(problems), down_only).services
        previous = continued


@settings(max_examples=40, deadline=None)
@given(
    large_problems(),
    st.booleans(),
)
def test_a_search_from_several_problems_reaches_what_they_reach_one_by_one(
    problems: dict[str, ProblemState], down_only: bool
) -> None:
    """An incident's down- or degraded-reach is one search from all its problems (continued
    from step to step); it reaches exactly the union of each problem's own reach."""
    evaluator = Evaluator(LARGE)
    ev = evaluator.evaluate(dict(problems), reach=True)
    reaches = ev.down_reach if down_only else ev.degraded_reach
    union: set[str] = set()
    for p in problems:
        union |= reaches[p]
    assert evaluator.search(set(problems), down_only).services == union
