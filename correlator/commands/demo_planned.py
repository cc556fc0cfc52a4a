"""The demo's planned work: the simulated teammate declares a window on a component the story
never fails, so the war room shows the PLANNED WORK banner and its window list (DESIGN §6).

The component never fails in the demo: a degraded-only problem joins the open incident whose
services it overlaps (§6), and a failure that never heals would keep the story's incident open
for good. `correlator maintenance add` on a component the story does fail shows a planned
incident.
"""

from __future__ import annotations

import time
import uuid

from correlator.core.evaluator import Evaluator
from correlator.core.maintenance import MaintenanceWindow
from correlator.core.timefmt import MINUTE, Millis
from correlator.core.topology import Topology

WINDOW_MINUTES = 30
REASON = "replica upgrade (the demo's planned work)"


def planned_component(topology: Topology) -> str | None:
    """The first component (file order) that takes no business service down on its own but
    degrades one: the story never casts it (its acts need a down-reach), and its failure is the
    kind of planned work that should page nobody."""
    evaluator = Evaluator(topology)
    for node in topology.components:
        ev = evaluator.evaluate({node.id: "down"}, reach=True)
        if not ev.down_reach.get(node.id) and ev.degraded_reach.get(node.id):
            return node.id
    return None


def planned_window(component: str, by: str, now: Millis) -> MaintenanceWindow:
    return MaintenanceWindow(
        id=f"mw-demo-{uuid.uuid4().hex[:6]}",
        components=(component,),
        match=(),
        starts_at=now,
        ends_at=now + WINDOW_MINUTES * MINUTE,
        reason=REASON,
        by=by,
    )


def wall_ms() -> Millis:
    return time.time_ns() // 1_000_000
