"""The demo's story: a rolling outage a newcomer can watch from its first second.

Each act has a cast of three root causes picked from the topology with the pure core's own
evaluation (so the story holds on any topology that allows it):

- **A** fails at once (an incident opens within the first second), its symptoms follow;
- **B**, whose down-reach is disjoint from A's, fails a little later: a second incident;
- **C**, whose down-reach overlaps both, fails next: the two incidents merge into A's, which
  escalates (more services, more customers);
- C, B and then A recover: the incident resolves.

The next act starts before the last one has resolved, with a cast whose reach does not overlap
the acts still open, so an incident is open nearly all of the time and the next one opens as
the previous one resolves. (Acknowledging is a human's part: the demo's simulated teammate.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from correlator.core.evaluator import Evaluator
from correlator.core.topology import Topology

ACT_SECONDS: Final = {
    "a_fires": 0.2,
    "b_fires": 15.0,
    "c_fires": 35.0,
    "c_recovers": 75.0,
    "b_recovers": 85.0,
    "a_recovers": 95.0,
    "next_act": 90.0,
}
"""When each step of an act happens, in seconds after the act starts."""
MAX_CANDIDATES: Final = 40
"""Root causes tried per cast (the search is cubic; a large topology has plenty of casts)."""


@dataclass(frozen=True, slots=True)
class Cast:
    """The root causes of one act: A and B open two incidents, C merges them (None: no merge is
    possible on this topology, the act is A and B, or A alone)."""

    a: str
    b: str | None
    c: str | None


def down_reaches(topology: Topology, candidates: list[str]) -> dict[str, frozenset[str]]:
    """Each candidate's down-reach (business services it takes down alone), non-empty ones."""
    evaluator = Evaluator(topology)
    out: dict[str, frozenset[str]] = {}
    for component in candidates:
        ev = evaluator.evaluate({component: "down"}, reach=True)
        reach = ev.down_reach.get(component, frozenset())
        if reach:
            out[component] = reach
    return out


def choose_cast(
    reaches: dict[str, frozenset[str]], rng: random.Random, avoid: frozenset[str] = frozenset()
) -> Cast | None:
    """A cast whose services do not overlap `avoid` (the acts still open), if there is one;
    preferring a full cast (a merge), then two incidents, then one."""
    free = sorted(c for c, r in reaches.items() if not r & avoid)
    if not free:
        return None
    rng.shuffle(free)
    free = free[:MAX_CANDIDATES]
    for a in free:
        for b in free:
            if b == a or reaches[a] & reaches[b]:
                continue
            for c in free:
                if c not in (a, b) and reaches[c] & reaches[a] and reaches[c] & reaches[b]:
                    return Cast(a, b, c)
    for a in free:
        for b in free:
            if b != a and not reaches[a] & reaches[b]:
                return Cast(a, b, None)
    return Cast(free[0], None, None)


def cast_reach(cast: Cast, reaches: dict[str, frozenset[str]]) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for member in (cast.a, cast.b, cast.c):
        if member is not None:
            out |= reaches[member]
    return out
