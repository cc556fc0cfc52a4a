"""The pure core on a 10,000-component synthetic topology.

Figures are ratios against a baseline measured in the same run: a plain dict update per alert
(the least any per-fingerprint state must do).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from correlator.core.alerts import Alert
from correlator.core.engine import Engine
from correlator.core.topology_parse import parse_topology
from correlator.synthetic import generate_topology

T0 = 1_790_000_000_000


def _rate(n: int, fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def _alert(component: str, at: int, severity: str = "critical", fp: str | None = None) -> Alert:
    return Alert(
        fingerprint=fp or f"{component}/{severity}",
        status="firing",
        severity=severity,  # type: ignore[arg-type]
        labels={"alertname": "Bench", "component": component},
        received_at=at,
        starts_at=at,
        summary=f"{component} is failing",
    )


def main() -> None:
    topology = parse_topology(generate_topology(10_000, seed=1), "synthetic-10k")
    components = [n.id for n in topology.components]
    rng = random.Random(7)
    print(
        f"topology: {len(topology.nodes):,} nodes, {len(topology.segments)} segments, "
        f"{len(topology.divisions)} divisions, {len(topology.cycles)} cycles"
    )

    # Baseline: a dict update per alert.
    repeats = [_alert(rng.choice(components[:50]), T0) for _ in range(50_000)]
    state: dict[str, Alert] = {}

    def baseline() -> None:
        for a in repeats:
            state[a.fingerprint] = a

    base = _rate(len(repeats), baseline)

    # Repeats of active alerts: must cost next to nothing (no health change).
    engine = Engine(topology)
    for a in {a.fingerprint: a for a in repeats}.values():
        engine.ingest(a)

    def ingest_repeats() -> None:
        for a in repeats:
            engine.ingest(a)

    rep = _rate(len(repeats), ingest_repeats)

    # New alerts on components that are already down: counts change, problem states do not.
    engine = Engine(topology)
    known = rng.sample(components, 20)
    for i, c in enumerate(known):
        engine.ingest(_alert(c, T0 + i))
    more = [_alert(rng.choice(known), T0 + 100 + i, fp=f"more-{i}") for i in range(2_000)]

    def ingest_more() -> None:
        for a in more:
            engine.ingest(a)

    new_on_known = _rate(len(more), ingest_more)

    # Health changes: a storm of distinct problems (each alert changes a component's health).
    for open_problems in (10, 50):
        engine = Engine(topology)
        storm = [
            _alert(c, T0 + i, rng.choice(["critical", "warning"]))
            for i, c in enumerate(rng.sample(components, open_problems))
        ]
        for a in storm:
            engine.ingest(a)
        flips = [
            _alert(c, T0 + 10_000 + i, "critical", fp=f"flip-{i}")
            for i, c in enumerate(rng.sample(components, 40))
        ]

        def ingest_flips(flips: list[Alert] = flips, engine: Engine = engine) -> None:
            for a in flips:
                engine.ingest(a)

        changes = _rate(len(flips), ingest_flips)
        print(
            f"health changes from {open_problems:>3} open problems: {changes:>10,.0f} alerts/s"
            f"  ({1000 / changes:.1f} ms each, {base / changes:,.0f}× the baseline's cost)"
        )
    print(f"baseline dict update:                    {base:>10,.0f} alerts/s")
    print(
        f"new alerts on 20 known problems:         {new_on_known:>10,.0f} alerts/s"
        f"  ({1e3 / new_on_known:.2f} ms each, {base / new_on_known:,.0f}× the baseline's cost)"
    )
    print(
        f"repeats of active alerts:                {rep:>10,.0f} alerts/s"
        f"  ({1e6 / rep:.1f} µs each, {base / rep:,.0f}× the baseline's cost)"
    )
