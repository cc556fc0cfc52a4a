"""The customers each root cause accounts for on its own, for many roots in one pass.

Root causes are ordered by the customers each would affect were it the only problem (DESIGN
§6). Evaluated one by one, that is one evaluation of each root's whole upstream: in a storm
with hundreds of roots it was half of the core's time. Here every root is a *world* with its
own bit, and one pass over the union of their upstreams evaluates all worlds at once, bit by
bit, with the evaluator's own rules (every rule is bitwise per key, so worlds never mix).

That is exact only for a root whose upstream holds no member of a `split` entry: then, alone,
it touches no division and the evaluator's only combination is the all-rest key of weight 1.
Roots whose upstream reaches a split member are left out; the caller evaluates them one by
one. `tests/core/test_alone.py` checks both ways agree.
"""

from __future__ import annotations

from collections.abc import Mapping

from correlator.core.evaluation_graph import EvaluationGraph, graph_of
from correlator.core.evaluator import _too_few_up
from correlator.core.figures import ProblemState
from correlator.core.topology import Topology


def alone_figures(
    topology: Topology, roots: Mapping[str, ProblemState]
) -> dict[str, tuple[int, int]]:
    """(customers affected, customers degraded) of each root alone, for the roots whose upstream
    has no split member; the others are not in the result."""
    g = graph_of(topology)
    nodes = topology.nodes
    known = [r for r in roots if r in nodes]
    if not known:
        return {}
    bit = {r: 1 << i for i, r in enumerate(known)}
    everything = (1 << len(known)) - 1
    down_own: dict[str, int] = {r: bit[r] for r in known if roots[r] == "down"}
    bad_own: dict[str, int] = {r: bit[r] for r in known}

    # The union of the roots' upstreams (every node a root can affect), in dependency order.
    dependents = topology.dependents
    region = set(known)
    stack = list(known)
    while stack:
        for dependent in dependents.get(stack.pop(), ()):
            if dependent not in region:
                region.add(dependent)
                stack.append(dependent)
    single = len(known) == 1
    if single and not region.isdisjoint(g.tokens):
        return {}  # its upstream reaches a split member: not exact here
    index = g.index
    ordered = sorted(region, key=index.__getitem__)

    touched: dict[str, int] = {}
    down: dict[str, int] = {}
    bad: dict[str, int] = {}
    tainted = 0  # worlds that reach a split member: not exact here
    scc = topology.scc
    i = 0
    while i < len(ordered):
        s = scc[ordered[i]]
        members = [ordered[i]]
        i += 1
        while i < len(ordered) and scc[ordered[i]] == s:
            members.append(ordered[i])
            i += 1
        # Affected in a world: the node is the root, or depends (transitively) on it. One root
        # alone affects its whole region.
        if single:
            reach = everything
        else:
            reach = 0
            for n in members:
                reach |= bad_own.get(n, 0)
                for entry in g.entries[n]:
                    for m in entry.members:
                        if scc[m] != s:
                            reach |= touched.get(m, 0)
            for n in members:
                touched[n] = reach
                if n in g.tokens:
                    tainted |= reach
        if not g.cyclic[s]:
            n = members[0]
            d, b = _value(g, n, down_own, bad_own, down, bad, everything)
            down[n], bad[n] = d & reach, b & reach
            continue
        for n in members:  # least fixed point, as the evaluator finds it
            down[n] = bad[n] = 0
        moved = True
        while moved:
            moved = False
            for n in members:
                d, b = _value(g, n, down_own, bad_own, down, bad, everything)
                d, b = d & reach, b & reach
                if (d, b) != (down[n], bad[n]):
                    down[n], bad[n] = d, b
                    moved = True

    affected = [0] * len(known)
    degraded = [0] * len(known)
    segments_of = g.segments_of
    touched_segments = sorted({i for n in region for i in segments_of.get(n, ())})
    for i in touched_segments:
        segment = topology.segments[i]
        seg_down = seg_bad = 0
        for sid in segment.uses:
            seg_down |= down.get(sid, 0)
            seg_bad |= bad.get(sid, 0)
        only_bad = seg_bad & ~seg_down
        for w in _bits(seg_down & ~tainted):
            affected[w] += segment.customers
        for w in _bits(only_bad & ~tainted):
            degraded[w] += segment.customers
    return {r: (affected[w], degraded[w]) for w, r in enumerate(known) if not tainted >> w & 1}


def _value(
    g: EvaluationGraph,
    n: str,
    down_own: Mapping[str, int],
    bad_own: Mapping[str, int],
    downs: Mapping[str, int],
    bads: Mapping[str, int],
    full: int,
) -> tuple[int, int]:
    """The evaluator's node value (`Evaluator._node_value`) at the all-rest key, per world."""
    down = down_own.get(n, 0)
    bad = bad_own.get(n, 0)
    for m in g.required[n]:
        down |= downs.get(m, 0)
        bad |= bads.get(m, 0)
    for entry in g.other_entries[n]:
        kind = entry.kind
        if kind == "split":
            continue  # no split member is affected in an exact world (tainted otherwise)
        for m in entry.members:
            bad |= bads.get(m, 0)
        if kind == "any":
            all_down = full
            for m in entry.members:
                all_down &= downs.get(m, 0)
                if not all_down:
                    break
            down |= all_down
        elif kind == "quorum":
            down |= _too_few_up(entry, downs, full)
    return down, bad | down


def _bits(mask: int) -> list[int]:
    """Positions of the set bits of `mask`."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out
