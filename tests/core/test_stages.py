"""The per-partition stage states without Kafka (the stream agents and `Engine` drive them)."""

from __future__ import annotations

from pathlib import Path

from correlator.core.engine import EngineSettings
from correlator.core.health import ComponentHealth
from correlator.core.stages import ImpactState
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
