"""The per-partition stage states without Kafka (the stream agents and `Engine` drive them)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from correlator.core.alerts import Alert
from correlator.core.engine import EngineSettings
from correlator.core.health import ComponentHealth
from correlator.core.stages import (
    EventTimeOrder,
    HealthPartition,
    ImpactState,
    Mark,
    Origin,
    TransitionIn,
)
from correlator.core.timefmt import MINUTE
from correlator.topology_files import load_topology

TOPOLOGY = load_topology(Path(__file__).resolve().parents[2] / "topologies" / "acme-shop.yaml")
T0 = 1_790_000_000_000


def test_an_idle_tick_republishes_the_summary_as_the_pipeline_heartbeat() -> None:
    state = ImpactState(TOPOLOGY, EngineSettings())
    down = ComponentHealth("cart-db-2", "down", 1, 0, 0, (), T0)
    first = state.on_health(down, wall=0.0)
    assert first.summary is not None and first.summary.customers_affected > 0
    tick = state.on_tick(T0 + 5_000, wall=5.0)
    assert tick.events == []  # nothing changed ...
    assert tick.summary is not None  # ... but the summary is published again, fresh
    assert tick.summary.as_of == T0 + 5_000
    assert tick.summary.material() == first.summary.material()


def test_an_outage_inside_one_batch_still_opens_and_resolves_its_incident() -> None:
    """A backlog hands the health stage a firing and its resolve together: both changes reach
    impact, each one step at its own time (nothing is folded by arrival)."""
    alert = Alert(
        fingerprint="fp-db",
        status="firing",
        severity="critical",
        labels={"alertname": "PostgresDown", "instance": "cart-db-2"},
        annotations={},
        summary="down",
        starts_at=T0,
        ends_at=None,
        source="test",
        received_at=T0,
    )
    health = HealthPartition()
    out = health.apply(
        [
            TransitionIn("cart-db-2", "fp-db", True, alert, T0),
            TransitionIn("cart-db-2", "fp-db", False, alert, T0 + 10 * MINUTE),
        ]
    )
    assert [r.state for r in out.records] == ["down", "healthy"]
    impact = ImpactState(TOPOLOGY, EngineSettings())
    events = [e for r in out.records for e in impact.on_health(r, wall=0.0).events]
    assert [(e.type, e.at) for e in events] == [
        ("incident.opened", T0),
        ("incident.resolved", T0 + 10 * MINUTE),
    ]


def test_inputs_wait_until_every_raw_partition_was_read_past_their_time() -> None:
    """Two raw partitions with a backlog each: merged by event time, whatever came first."""
    order: EventTimeOrder[str] = EventTimeOrder(sources=1, lease=2.0)
    order.push(T0 + 10 * MINUTE, Origin(0, 1), "r0: resolve at 10 min")
    order.push(T0, Origin(0, 0), "r0: fire at 0")
    assert order.release(wall=0.0) == []  # no mark yet
    order.mark(0, 2, [(0, Mark(2, T0 + 10 * MINUTE, caught_up=True))], wall=0.0)
    assert order.release(wall=0.0) == []  # raw partition 1 not heard from yet
    order.mark(0, 2, [(1, Mark(5, T0 + 5 * MINUTE, caught_up=False))], wall=0.0)
    assert order.release(wall=0.0) == ["r0: fire at 0"]  # r1 is read up to 5 min only
    order.push(T0 + 5 * MINUTE, Origin(1, 4), "r1: at 5 min")
    order.mark(0, 2, [(1, Mark(9, T0 + 12 * MINUTE, caught_up=False))], wall=0.0)
    assert order.release(wall=0.0) == ["r1: at 5 min", "r0: resolve at 10 min"]


def test_one_raw_partition_keeps_its_order_across_paths() -> None:
    """An input is not released while an earlier record of its raw partition may still be on
    its way along another path, even when everything looks caught up."""
    order: EventTimeOrder[str] = EventTimeOrder(sources=2, lease=2.0)
    order.mark(0, 1, [(0, Mark(10, T0 + 15_000, caught_up=True))], wall=0.0)
    order.mark(1, 1, [(0, Mark(9, T0 + 14_000, caught_up=True))], wall=0.0)  # path 1 is behind
    order.push(T0 + 16_000, Origin(0, 10), "offset 10 via path 0")
    assert order.release(wall=0.0) == []
    order.mark(0, 1, [(0, Mark(11, T0 + 16_000, caught_up=True))], wall=0.0)
    order.push(T0 + 15_000, Origin(0, 9), "offset 9 via path 1")
    order.mark(1, 1, [(0, Mark(11, T0 + 16_000, caught_up=True))], wall=0.0)
    assert order.release(wall=0.0) == ["offset 9 via path 1", "offset 10 via path 0"]


def test_a_caught_up_mark_is_a_lease() -> None:
    """A partition whose owner stops renewing (it died) holds the others back at its last read
    time instead of letting them overtake a backlog its next owner has not read yet."""
    order: EventTimeOrder[str] = EventTimeOrder(sources=1, lease=2.0)
    order.mark(0, 2, [(0, Mark(3, T0, caught_up=True))], wall=0.0)
    order.mark(0, 2, [(1, Mark(7, T0 + 9 * MINUTE, caught_up=False))], wall=0.0)
    order.push(T0 + 5 * MINUTE, None, "x")
    assert order.release(wall=1.0) == ["x"]
    order.push(T0 + 6 * MINUTE, None, "y")
    assert order.release(wall=5.0) == []  # raw partition 0's lease ran out at T0


def test_idle_time_counts_only_until_the_slowest_path_was_last_heard_from() -> None:
    """A dead worker's caught-up mark still holds for its lease, but idle time (which moves
    the clock that stamps alert changes) stops where that worker fell silent."""
    order: EventTimeOrder[str] = EventTimeOrder(sources=1, lease=2.0)
    assert order.heard() is None  # nothing heard yet
    order.mark(0, 2, [(0, Mark(3, T0, caught_up=True))], wall=10.0)
    assert order.heard() is None  # raw partition 1 not heard from yet
    order.mark(0, 2, [(1, Mark(7, T0, caught_up=True))], wall=10.5)
    order.mark(0, 2, [(1, Mark(7, T0, caught_up=True))], wall=11.5)  # 0's owner fell silent
    assert order.heard() == 10.0
    assert order.progress(wall=11.9) == [(0, Mark(3, T0, True)), (1, Mark(7, T0, True))]


_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("push"),
            st.integers(0, 30),
            st.none() | st.tuples(st.integers(0, 2), st.integers(0, 40)),
        ),
        st.tuples(
            st.just("mark"),
            st.integers(0, 1),
            st.tuples(st.integers(0, 2), st.integers(0, 45), st.integers(0, 35), st.booleans()),
        ),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_ops)
def test_the_marks_passed_on_are_those_of_what_still_waits(ops: list[tuple[Any, ...]]) -> None:
    """`progress` (kept per raw partition, not found by a walk over everything waiting) equals
    the marks worked out from the inputs still waiting, after any pushes, marks and releases."""
    order: EventTimeOrder[int] = EventTimeOrder(sources=2, lease=2.0)
    waiting: dict[int, tuple[int, Origin | None]] = {}
    heard: dict[tuple[int, int], Mark] = {}  # (path, raw partition) -> its latest mark
    if ops and ops[0][0] == "mark":  # most runs start with every path heard (else none)
        for path in range(2):
            for r in range(3):
                heard[(path, r)] = Mark(0, T0, False)
                order.mark(path, 3, [(r, heard[(path, r)])], wall=0.0)
    for n, (kind, a, b) in enumerate(ops):
        if kind == "push":
            origin = None if b is None else Origin(*b)
            order.push(T0 + a, origin, n)
            waiting[n] = (T0 + a, origin)
        else:
            r, offset, read, up = b
            heard[(a, r)] = Mark(offset, T0 + read, up)
            order.mark(a, 3, [(r, heard[(a, r)])], wall=0.0)
        for item in order.release(wall=0.0):
            del waiting[item]
        got = order.progress(wall=0.0)
        if len(heard) < 6:  # not every path has passed on every raw partition yet
            assert got is None
            continue
        oldest = min((t for t, _ in waiting.values()), default=None)
        want = []
        for r in range(3):
            paths = [heard[(path, r)] for path in range(2)]
            lowest = [o.offset for _, o in waiting.values() if o is not None and o.partition == r]
            read = min(m.read for m in paths)
            mark = Mark(
                min([*(m.offset for m in paths), *lowest]),
                read if oldest is None else min(read, oldest),
                all(m.caught_up for m in paths) and not waiting,
            )
            want.append((r, mark))
        assert got == want


def test_what_was_released_is_not_kept() -> None:
    """A stage that never passes marks on (impact) releases hundreds of thousands of inputs
    over a day: the order keeps nothing of those it released."""
    order: EventTimeOrder[int] = EventTimeOrder(sources=1, lease=2.0)
    order.mark(0, 2, [(0, Mark(0, T0, True)), (1, Mark(0, T0, True))], wall=0.0)

    def cycle(start: int, n: int) -> None:
        for i in range(start, start + n):
            order.push(T0 + i, Origin(i % 2, i // 2), i)
            order.mark(0, 2, [(i % 2, Mark(i // 2 + 1, T0 + i, True))], wall=0.0)
            assert order.release(wall=0.0) == [i]

    cycle(0, 1_000)  # warm up: dicts and heaps at their working size
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cycle(1_000, 50_000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 200_000, grown  # kept per input: 7.5 MB
