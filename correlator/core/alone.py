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

import heapq
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

from correlator.core.evaluation_graph import EvaluationGraph, graph_of
from correlator.core.evaluator import _all_down, _too_few_up
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
    when there are more than `bound` of them (the evaluator would sample).

    Where it was degraded it is found from what each node reaches (`_Closures`, built once per
    topology), not from a pass over the root's upstream; where it is down, by propagation from
    the root through the nodes that go down."""
    g = graph_of(topology)
    if root not in topology.nodes:
        return None
    c = _closures(topology)
    if not c.usable:
        return _alone_by_pass(topology, root, state, bound)
    # The split members upstream (through other split entries too): the divisions hit.
    reached = c.up[root] & c.split_bits
    seen, todo = 0, reached
    while todo:
        low = todo & -todo
        todo ^= low
        seen |= low
        for y, _, _ in c.gates[c.ids[low.bit_length() - 1]]:
            todo |= c.up[y] & c.split_bits & ~seen
    hit: dict[str, set[str]] = {}
    for i in _bits(seen):
        for division_hit, part_hit in g.tokens[c.ids[i]]:
            hit.setdefault(division_hit, set()).add(part_hit)
    combinations = _combinations(topology, hit, bound)
    if combinations is None:
        return None
    keys, part_mask = combinations
    full = (1 << len(keys)) - 1
    # Degraded: an OR along every path from the root, AND-ing the part of each split entry on
    # it; every target (business service or split member) reached without one gets `full`.
    bad = dict.fromkeys(_bits(c.up[root]), full)
    pending = [i for i in bad if c.split_bits >> i & 1]
    while pending:
        m = pending.pop()
        mask = bad[m]
        for y, division, part in c.gates[c.ids[m]]:
            carry = part_mask.get((division, part), 0) & mask
            if not carry:
                continue
            for t in _bits(c.up[y]):
                before = bad.get(t, 0)
                if carry | before != before:
                    bad[t] = carry | before
                    if c.split_bits >> t & 1:
                        pending.append(t)
    ids = c.ids
    services = {ids[t]: mask for t, mask in bad.items() if g.is_service[ids[t]]}
    down = _down_alone(g, root, full, part_mask) if state == "down" else {}
    return _figures(topology, keys, services.keys(), down, services)


def _alone_by_pass(
    topology: Topology, root: str, state: ProblemState, bound: int
) -> tuple[int, int] | None:
    """`alone_figures_of` as one pass over the root's whole upstream (a cycle through a split
    entry defeats the closures)."""
    g = graph_of(topology)
    region = topology.upstream([root])
    hit: dict[str, set[str]] = {}
    for n in region:
        for division_hit, part_hit in g.tokens.get(n, ()):
            hit.setdefault(division_hit, set()).add(part_hit)
    combinations = _combinations(topology, hit, bound)
    if combinations is None:
        return None
    keys, part_mask = combinations
    full = (1 << len(keys)) - 1
    own = _Own({root: full} if state == "down" else {}, {root: full}, full, part_mask, region)
    down: dict[str, int] = {}
    bad: dict[str, int] = {}
    for s, members in _sccs_in_order(topology, region):
        _evaluate(g, s, members, own, down, bad, full)
    return _figures(topology, keys, region, down, bad)


def _combinations(
    topology: Topology, hit: Mapping[str, set[str]], bound: int
) -> tuple[list[tuple[dict[str, str], Fraction]], dict[tuple[str, str], int]] | None:
    """Every combination of the hit divisions (each hit part alone, the others as one rest)
    with its weight, and per (division, part) the bits of the combinations in it; None past
    `bound`."""
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
    return keys, part_mask


def _figures(
    topology: Topology,
    keys: list[tuple[dict[str, str], Fraction]],
    region: Iterable[str],
    down: Mapping[str, int],
    bad: Mapping[str, int],
) -> tuple[int, int]:
    """Customers affected and degraded, from the masks of the region's business services."""
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
class _Closures:
    """What each node reaches upward without passing a `split` entry, as a bit mask over the
    targets (business services and members of split entries), and per split member the split
    entries naming it: the root-alone figures read these instead of walking an upstream."""

    ids: list[str]
    """Bit position -> target node."""
    up: dict[str, int]
    split_bits: int
    gates: dict[str, list[tuple[str, str, str]]]
    """Split member -> (dependent, division, part) per part it serves."""
    usable: bool
    """False when a cycle runs through a split entry (then the closures are not exact)."""


def _closures(topology: Topology) -> _Closures:
    cached = topology._index.get("alone_closures")
    if isinstance(cached, _Closures):
        return cached
    g = graph_of(topology)
    scc = topology.scc
    targets = [n for n in g.order if g.is_service[n] or n in g.tokens]
    bit = {n: 1 << i for i, n in enumerate(targets)}
    split_bits = 0
    for n in g.tokens:
        split_bits |= bit[n]
    gates: dict[str, list[tuple[str, str, str]]] = {n: [] for n in g.tokens}
    usable = True
    up: dict[str, int] = {}
    for s in sorted(g.scc_members, key=g.scc_rank.__getitem__, reverse=True):
        members = g.scc_members[s]
        mask = 0
        for n in members:
            mask |= bit.get(n, 0)
            for y, entry in g.uses.get(n, ()):
                if entry.kind == "split":
                    if scc[y] == s:
                        usable = False
                    for part, m in zip(entry.parts, entry.members, strict=True):
                        if m == n:
                            gates[n].append((y, entry.division, part))
                elif scc[y] != s:
                    mask |= up[y]
        for n in members:
            up[n] = mask
    closures = _Closures(targets, up, split_bits, gates, usable)
    topology._index["alone_closures"] = closures
    return closures


def _down_alone(
    g: EvaluationGraph, root: str, full: int, part_mask: Mapping[tuple[str, str], int]
) -> dict[str, int]:
    """Per node, the combinations in which a root that is down, alone, cuts it off. A node is
    down only when one of its members is (a quorum never exceeds its group), so only the
    dependents of down nodes are evaluated, in dependency order (a cycle settles by
    re-evaluating its members until nothing changes)."""
    index, uses = g.index, g.uses
    required, other_entries = g.required, g.other_entries
    down = {root: full}
    heap: list[tuple[int, str]] = []
    queued: set[str] = set()
    for y, entry in uses.get(root, ()):
        if entry.kind != "soft" and y not in queued and y != root:
            queued.add(y)
            heapq.heappush(heap, (index[y], y))
    while heap:
        y = heapq.heappop(heap)[1]
        queued.discard(y)
        d = 0
        for m in required[y]:
            d |= down.get(m, 0)
        for entry in other_entries[y]:
            kind = entry.kind
            if kind == "any":
                d |= _all_down(entry.members, down, full)
            elif kind == "quorum":
                d |= _too_few_up(entry, down, full)
            elif kind == "split":
                for part, m in zip(entry.parts, entry.members, strict=True):
                    d |= part_mask.get((entry.division, part), 0) & down.get(m, 0)
        d &= full
        if d == down.get(y, 0):
            continue
        down[y] = d
        for z, entry in uses.get(y, ()):
            if entry.kind != "soft" and z not in queued and z != root:
                queued.add(z)
                heapq.heappush(heap, (index[z], z))
    return down


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
    topology: Topology, region: Iterable[str], down: Mapping[str, int], bad: Mapping[str, int]
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
            down |= _all_down(entry.members, downs, full)
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
