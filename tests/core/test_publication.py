"""Publication caches: what is updated step by step equals what is built from scratch."""

from __future__ import annotations

from hypothesis import example, given, settings

from correlator.core.evaluator import Evaluator
from correlator.core.figures import ProblemState
from correlator.core.health import ComponentHealth
from correlator.core.incident import Incident
from correlator.core.incidents import IncidentTracker
from correlator.core.publication import ordered_roots, segment_figures, services_in_order
from correlator.core.topology_parse import parse_topology
from correlator.synthetic import generate_topology
from tests.core.helpers import apply_step, problem_steps

LARGE = parse_topology(generate_topology(1500, seed=11), "synthetic-1500")
LARGE_COMPONENTS = [n.id for n in LARGE.components]


@settings(max_examples=20, deadline=None)
@example([{"zone-eu-a": "healthy"}, {"zone-eu-a": "healthy"}])  # empty both times
@example([{"zone-eu-a": "down"}, {"zone-eu-a": "down"}])  # the same evaluation twice
@given(problem_steps(LARGE_COMPONENTS, max_size=12, max_steps=8))
def test_service_order_updated_step_by_step_equals_a_fresh_sort(
    steps: list[dict[str, ProblemState | str]],
) -> None:
    """An incident's business services, kept in order from the services each evaluation
    changed, are those sorted whole; so are its segments, kept likewise."""
    tracker = IncidentTracker(LARGE)
    evaluator = Evaluator(LARGE)
    followed = Incident("inc-followed", 0)
    problems: dict[str, ProblemState] = {}
    updated = expected = last_serial = 0
    for step in steps:
        apply_step(problems, step)
        ev = evaluator.evaluate(dict(problems), root_causes=True)
        before = followed.service_order
        if ev.serial and before is not None and before.serial in (ev.serial, ev.previous_serial):
            updated += 1  # (an empty evaluation has serial 0: sorted whole, nothing to follow)
        if last_serial and ev.serial:  # neither empty: the chain of evaluations is unbroken
            expected += 1
        last_serial = ev.serial
        incremental = services_in_order(tracker, followed, ev)
        fresh = services_in_order(tracker, Incident("inc-fresh", 0), ev)
        assert incremental == fresh
        assert [s.id for s in fresh] == [s.id for s in fresh if s.id in ev.services]
        assert {s.id for s in fresh} == set(ev.services)
        segments = segment_figures(tracker, ev)
        assert segments == segment_figures(IncidentTracker(LARGE), ev)  # built whole
        assert list(segments) == sorted(segments, key=lambda s: (-s.affected, -s.degraded, s.id))
        assert {s.id for s in segments} == {
            sid for sid, f in ev.segments.items() if f.affected or f.degraded
        }
    assert updated == expected  # served from the order before whenever there was one


@settings(max_examples=30, deadline=None)
@given(problem_steps(LARGE_COMPONENTS[::6], max_size=20, max_steps=8))  # steps meet again
def test_root_order_updated_step_by_step_equals_a_fresh_sort(
    steps: list[dict[str, ProblemState | str]],
) -> None:
    """An incident's root causes, kept in order from the roots that came, went or changed
    state, are those sorted whole by what each accounts for alone."""
    tracker = IncidentTracker(LARGE)
    evaluator = Evaluator(LARGE)
    followed = Incident("inc-followed", 0)
    problems: dict[str, ProblemState] = {}
    for step in steps:
        apply_step(problems, step)
        ev = evaluator.evaluate(dict(problems), root_causes=True)
        incremental = ordered_roots(tracker, ev, followed)
        assert incremental == ordered_roots(IncidentTracker(LARGE), ev)
        assert set(incremental) == ev.root_causes


def _health(component: str, state: str, at: int, alerts: int = 1) -> ComponentHealth:
    """A health record with `alerts` critical (down) or warning (degraded) alerts."""
    counts = {"down": (alerts, 0), "degraded": (0, alerts), "healthy": (0, 0)}[state]
    return ComponentHealth(component, state, counts[0], counts[1], 0, (), at)  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@example([{"zone-eu-a": "down"}, {"zone-eu-a": "degraded"}, {"zone-eu-a": "down"}])
@given(problem_steps(LARGE_COMPONENTS[::6], max_size=20, max_steps=10))  # steps meet again
def test_snapshots_kept_step_by_step_equal_what_their_members_give_now(
    steps: list[dict[str, str]],
) -> None:
    """Every open incident's snapshot, kept from the members that joined, left or changed
    (its own problems, evaluation, root order and component entries), equals what its members
    give when everything is worked out again: figures, ordered root causes, and each
    member's entry in file order. A component in the same state again brings another number
    of alerts (its entry changes, its state does not)."""
    tracker = IncidentTracker(LARGE)
    order = LARGE.order
    for i, step in enumerate(steps):
        records = [_health(c, s, 1000 * i, alerts=1 + i % 3) for c, s in step.items()]
        tracker.apply_health(records, 1000 * i)
        for snap in tracker.open_snapshots():
            members = sorted(
                (c for c, inc in tracker.member_of.items() if inc == snap.id), key=order.get
            )
            if not members:
                continue
            problems = {m: tracker.problems[m] for m in members}
            ev = Evaluator(LARGE).evaluate(problems, root_causes=True)
            assert (snap.customers_affected, snap.customers_degraded) == (
                ev.customers_affected,
                ev.customers_degraded,
            )
            assert snap.root_causes == ordered_roots(IncidentTracker(LARGE), ev)
            assert [c.id for c in snap.components] == members
            assert [(c.state, c.root_cause, c.alert_count) for c in snap.components] == [
                (problems[m], m in ev.root_causes, tracker.health[m].alert_count) for m in members
            ]
            assert snap.alert_count == sum(tracker.health[m].alert_count for m in members)


@settings(max_examples=40, deadline=None)
@given(problem_steps(LARGE_COMPONENTS[::4], max_size=6, max_steps=12))  # an outage spreading
def test_open_incidents_never_share_a_cut_off_service(steps: list[dict[str, str]]) -> None:
    """After every step, no two open incidents cut customers off from the same business
    service (DESIGN §6: overlapping down-reaches merge). Each incident's reach search is
    continued from step to step with the members that joined; one that missed a member
    would leave two incidents on one service."""
    tracker = IncidentTracker(LARGE)
    for i, step in enumerate(steps):
        tracker.apply_health([_health(c, s, 1000 * i) for c, s in step.items()], 1000 * i)
        ev = Evaluator(LARGE).evaluate(dict(tracker.problems), reach=True)
        claimed: dict[str, str] = {}
        for c, inc in sorted(tracker.member_of.items()):
            for service in ev.down_reach[c]:
                assert claimed.setdefault(service, inc) == inc, (service, c)
