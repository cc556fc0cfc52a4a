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

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

from correlator.core.evaluation_graph import EvaluationGraph, graph_of
from correlator.core.evaluator import _too_few_up
from correlator.core.figures import ProblemState, round_half_up
from correlator.core.topology import Segment, Topology


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
    bad_own: dict[str, int] = {r: bit[r] for r in known}
    own = _Own({r: bit[r] for r in known if roots[r] == "down"}, bad_own, everything)

    region = topology.upstream(known)  # every node a root can affect
    single = len(known) == 1
    if single and not region.isdisjoint(g.tokens):
        return {}  # its upstream reaches a split member: not exact here

    touched: dict[str, int] = {}
    down: dict[str, int] = {}
    bad: dict[str, int] = {}
    tainted = 0  # worlds that reach a split member: not exact here
    scc = topology.scc
    for s, members in _sccs_in_order(topology, region):
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
        _evaluate(g, s, members, own, down, bad, reach)

    affected = [0] * len(known)
    degraded = [0] * len(known)
    for segment, seg_down, only_bad in _segments(topology, region, down, bad):
        for w in _bits(seg_down & ~tainted):
            affected[w] += segment.customers
        for w in _bits(only_bad & ~tainted):
            degraded[w] += segment.customers
    return {r: (affected[w], degraded[w]) for w, r in enumerate(known) if not tainted >> w & 1}


def alone_figures_of(
    topology: Topology, root: str, state: ProblemState, bound: int
) -> tuple[int, int] | None:
    """(customers affected, customers degraded) of one root alone, split members included:
    the combinations are those of every division the root's upstream hits, enumerated whole
    (each figure the evaluator gives over a smaller scope is the same sum, marginalised). None
    when there are more than `bound` of them (the evaluator would sample)."""
    g = graph_of(topology)
    if root not in topology.nodes:
        return None
    region = topology.upstream([root])
    hit: dict[str, set[str]] = {}
    for n in region:
        for division_hit, part_hit in g.tokens.get(n, ()):
            hit.setdefault(division_hit, set()).add(part_hit)
    # Every combination of the hit divisions: each hit part alone, the others as one rest.
    keys: list[tuple[dict[str, str], Fraction]] = [({}, Fraction(1))]
    for division_id in sorted(hit):
        division = topology.divisions[division_id]
        choices = [
            (p, w)
            for p, w in zip(division.parts, division.shares, strict=True)
            if p in hit[division_id]
        ]
        rest = 1 - sum((w for _, w in choices), Fraction(0))
        if rest > 0:
            choices.append(("", rest))
        keys = [({**k, division_id: p}, w * share) for k, w in keys for p, share in choices]
        if len(keys) > bound:
            return None
    part_mask: dict[tuple[str, str], int] = {}
    for i, (key, _) in enumerate(keys):
        for division_id, part in key.items():
            if part:
                part_mask[(division_id, part)] = part_mask.get((division_id, part), 0) | 1 << i
    full = (1 << len(keys)) - 1
    own = _Own({root: full} if state == "down" else {}, {root: full}, full, part_mask, region)
    down: dict[str, int] = {}
    bad: dict[str, int] = {}
    for s, members in _sccs_in_order(topology, region):
        _evaluate(g, s, members, own, down, bad, full)
    denominator = math.lcm(*(w.denominator for _, w in keys))
    numerators = [w.numerator * (denominator // w.denominator) for _, w in keys]
    affected = degraded = 0
    for segment, seg_down, only_bad in _segments(topology, region, down, bad):
        a = Fraction(sum(numerators[j] for j in _bits(seg_down)), denominator)
        d = Fraction(sum(numerators[j] for j in _bits(only_bad)), denominator)
        whole = round_half_up(segment.customers * a)
        affected += whole
        degraded += round_half_up(segment.customers * (a + d)) - whole
    return affected, degraded


@dataclass(frozen=True, slots=True)
class _Own:
    """What one pass starts from: the roots' own masks, every bit (worlds or combinations),
    and, per combination, the part masks and the nodes affected."""

    down: Mapping[str, int]
    bad: Mapping[str, int]
    full: int
    part_mask: Mapping[tuple[str, str], int] | None = None
    affected: set[str] | None = None


def _sccs_in_order(topology: Topology, region: set[str]) -> Iterator[tuple[int, list[str]]]:
    """The region's strongly connected components in dependency order (leaves first)."""
    g = graph_of(topology)
    scc = topology.scc
    ordered = sorted(region, key=g.index.__getitem__)
    i = 0
    while i < len(ordered):
        s = scc[ordered[i]]
        members = [ordered[i]]
        i += 1
        while i < len(ordered) and scc[ordered[i]] == s:
            members.append(ordered[i])
            i += 1
        yield s, members


def _evaluate(
    g: EvaluationGraph,
    s: int,
    members: list[str],
    own: _Own,
    down: dict[str, int],
    bad: dict[str, int],
    mask: int,
) -> None:
    """Values of one SCC's members (kept to `mask`); a cycle's least fixed point, as the
    evaluator finds it."""
    if not g.cyclic[s]:
        n = members[0]
        d, b = _value(g, n, own, down, bad)
        down[n], bad[n] = d & mask, b & mask
        return
    for n in members:
        down[n] = bad[n] = 0
    moved = True
    while moved:
        moved = False
        for n in members:
            d, b = _value(g, n, own, down, bad)
            d, b = d & mask, b & mask
            if (d, b) != (down[n], bad[n]):
                down[n], bad[n] = d, b
                moved = True


def _segments(
    topology: Topology, region: set[str], down: Mapping[str, int], bad: Mapping[str, int]
) -> Iterator[tuple[Segment, int, int]]:
    """Each segment a region's service is in: the bits where it is cut off, and where it is
    only degraded."""
    segments_of = graph_of(topology).segments_of
    for index in sorted({i for n in region for i in segments_of.get(n, ())}):
        segment = topology.segments[index]
        seg_down = seg_bad = 0
        for sid in segment.uses:
            seg_down |= down.get(sid, 0)
            seg_bad |= bad.get(sid, 0)
        yield segment, seg_down, seg_bad & ~seg_down


def _value(
    g: EvaluationGraph,
    n: str,
    own: _Own,
    downs: Mapping[str, int],
    bads: Mapping[str, int],
) -> tuple[int, int]:
    """The evaluator's node value (`Evaluator._node_value`): per world at the all-rest key, or
    per combination (`own.part_mask`) for one root whose upstream is `own.affected`."""
    full = own.full
    down = own.down.get(n, 0)
    bad = own.bad.get(n, 0)
    for m in g.required[n]:
        down |= downs.get(m, 0)
        bad |= bads.get(m, 0)
    for entry in g.other_entries[n]:
        kind = entry.kind
        if kind == "split":
            # Worlds: no split member is affected in an exact world (tainted otherwise).
            if own.part_mask is not None and own.affected is not None:
                for part, m in zip(entry.parts, entry.members, strict=True):
                    if m in own.affected:
                        pm = own.part_mask.get((entry.division, part), 0)
                        down |= pm & downs.get(m, 0)
                        bad |= pm & bads.get(m, 0)
            continue
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
