"""The per-partition stage states without Kafka (the stream agents and `Engine` drive them)."""

from __future__ import annotations

from pathlib import Path

from correlator.core.alerts import Alert
from correlator.core.engine import EngineSettings
from correlator.core.health import ComponentHealth
from correlator.core.stages import EventTimeOrder, HealthPartition, ImpactState, Mark, TransitionIn
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


def test_inputs_wait_until_every_source_has_passed_their_time() -> None:
    order: EventTimeOrder[str] = EventTimeOrder(sources=2, lease=2.0)
    order.push(T0 + 600_000, "resolve (source 0)")
    order.push(T0, "fire (source 0)")
    order.mark(0, Mark(T0 + 600_000, caught_up=False), wall=0.0)
    assert order.release(wall=0.0) == []  # source 1 not heard from yet
    order.mark(1, Mark(T0 + 300_000, caught_up=False), wall=0.0)
    assert order.release(wall=0.0) == ["fire (source 0)"]  # source 1 is at T0 + 5 min
    order.push(T0 + 300_000, "other (source 1)")
    order.mark(1, Mark(T0 + 300_000, caught_up=True), wall=0.0)
    assert order.release(wall=0.0) == ["other (source 1)", "resolve (source 0)"]


def test_a_caught_up_mark_is_a_lease() -> None:
    """A source that stops renewing (its worker died) holds the others back at its last read
    time instead of letting them overtake a backlog its next owner has not read yet."""
    order: EventTimeOrder[str] = EventTimeOrder(sources=2, lease=2.0)
    order.mark(0, Mark(T0, caught_up=True), wall=0.0)
    order.mark(1, Mark(T0 + 9 * MINUTE, caught_up=False), wall=0.0)
    order.push(T0 + 5 * MINUTE, "x")
    assert order.release(wall=1.0) == ["x"]
    order.push(T0 + 6 * MINUTE, "y")
    assert order.release(wall=5.0) == []  # source 0's lease ran out at T0
    assert order.watermark(wall=5.0) == Mark(T0, caught_up=False)
