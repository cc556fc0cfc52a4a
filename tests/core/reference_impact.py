"""The first impact evaluator, kept as the test oracle for `correlator.core.evaluator`.

It evaluates every combination of division parts separately with plain sets: slow on large
storms, but a direct transcription of DESIGN §5-6, so the fast evaluator is held to it.

Impact evaluation (DESIGN §5): which customers are cut off, exactly, and because of what.

Per customer everything is boolean. Customers are divided by the active divisions (those with a
problem below one of their members); the graph is evaluated once per combination of parts,
weighted by the product of the parts' exact shares. Only nodes downstream of problems are ever
visited, so the cost follows the size of the trouble, not the size of the topology.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

from correlator.core.figures import (
    ONE,
    ZERO,
    ProblemState,
    SegmentFigure,
    ServiceFigure,
)
from correlator.core.topology import Entry, Topology

REST = "\x00rest"
"""The merged part of a division whose members are all unaffected."""

Assignment = tuple[tuple[str, str], ...]
"""A combination: (division id, part or REST) pairs, sorted by division id."""


@dataclass(frozen=True)
class Evaluation:
    """The outcome for one set of problems. Services and segments not listed are ok."""

    problems: Mapping[str, ProblemState]
    services: Mapping[str, ServiceFigure]
    segments: Mapping[str, SegmentFigure]
    estimated: bool
    down_reach: Mapping[str, frozenset[str]] = field(default_factory=dict)
    degraded_reach: Mapping[str, frozenset[str]] = field(default_factory=dict)
    root_causes: frozenset[str] = frozenset()
    run: _Run | None = field(default=None, compare=False, repr=False)
    """The work behind these figures, reused when the next problem set is evaluated."""
    with_reach: bool = field(default=False, compare=False, repr=False)
    with_roots: bool = field(default=False, compare=False, repr=False)

    @cached_property
    def customers_affected(self) -> int:
        return sum(s.affected for s in self.segments.values())

    @cached_property
    def customers_degraded(self) -> int:
        return sum(s.degraded for s in self.segments.values())

    def impacted_services(self) -> list[str]:
        """Ids of services that are not ok."""
        return [sid for sid, f in self.services.items() if f.state != "ok"]


EMPTY = Evaluation(problems={}, services={}, segments={}, estimated=False)


@dataclass(slots=True)
class _Combo:
    weight: Fraction
    down: frozenset[str]
    bad: frozenset[str]
    parts: dict[str, str]


class Evaluator:
    """Evaluates problem sets against one topology. Stateless apart from caches."""

    def __init__(self, topology: Topology, *, bound: int = 4096, seed: int = 0) -> None:
        self.topology = topology
        self.bound = bound
        self.seed = seed
        self._bit_index: dict[str, int] = {}

    def bit(self, component: str) -> int:
        """A problem's stable bit for reach bitsets (stable so results carry over steps)."""
        index = self._bit_index.get(component)
        if index is None:
            index = self._bit_index[component] = len(self._bit_index)
        return 1 << index

    # -- public -------------------------------------------------------------------------------

    def evaluate(
        self,
        problems: Mapping[str, ProblemState],
        *,
        reach: bool = False,
        root_causes: bool = False,
        previous: Evaluation | None = None,
    ) -> Evaluation:
        """Evaluate `problems` (component id -> own state); unknown ids are ignored.

        With `previous` (an evaluation of this evaluator), only the nodes that depend on a
        component whose state changed since then are evaluated again.
        """
        topo = self.topology
        problems = {c: s for c, s in problems.items() if c in topo.nodes}
        if not problems:
            return EMPTY
        if (
            previous is not None
            and previous.run is not None
            and previous.run.ev is self
            and previous.problems == problems
            and (previous.with_reach or not reach)
            and (previous.with_roots or not root_causes)
        ):
            return previous  # same problem states: same figures (new alerts on a known problem)
        prior = previous.run if previous is not None else None
        run = _Run(self, problems, prior if prior is not None and prior.ev is self else None)
        services: dict[str, ServiceFigure] = {}
        for sid in run.affected_services:
            combos = run.combos_for(sid)
            if len(combos) == 1:  # no active division: the common case, no arithmetic
                only = combos[0]
                down = sid in only.down
                impact = ONE if down else ZERO
                degraded = ONE if not down and sid in only.bad else ZERO
            else:
                impact = sum((c.weight for c in combos if sid in c.down), ZERO)
                degraded = sum(
                    (c.weight for c in combos if sid in c.bad and sid not in c.down), ZERO
                )
            figure = ServiceFigure(sid, impact, degraded)
            if figure.state != "ok":
                services[sid] = figure
        segments: dict[str, SegmentFigure] = {}
        for segment in topo.segments:
            used = [s for s in segment.uses if s in services]
            if not used:
                continue
            critical = [s for s in used if topo.nodes[s].tier <= 2]
            combos = run.combos_for_many(used, key=f"segment:{segment.id}")
            if len(combos) == 1:  # no active division: whole segment, no arithmetic
                only = combos[0]
                is_down = any(s in only.down for s in used)
                segments[segment.id] = SegmentFigure.of(
                    segment.id,
                    segment.customers,
                    ONE if is_down else ZERO,
                    ONE if not is_down and any(s in only.bad for s in used) else ZERO,
                    ONE if any(s in only.down for s in critical) else ZERO,
                )
                continue
            affected = degraded = crit = ZERO
            for c in combos:
                if any(s in c.down for s in used):
                    affected += c.weight
                    if any(s in c.down for s in critical):
                        crit += c.weight
                elif any(s in c.bad for s in used):
                    degraded += c.weight
            segments[segment.id] = SegmentFigure.of(
                segment.id, segment.customers, affected, degraded, crit
            )
        down_reach: dict[str, frozenset[str]] = {}
        degraded_reach: dict[str, frozenset[str]] = {}
        if reach:
            down_reach, degraded_reach = run.reaches(services)
        roots = run.root_causes() if root_causes else frozenset()
        return Evaluation(
            problems=problems,
            services=services,
            segments=segments,
            estimated=run.estimated,
            down_reach=down_reach,
            degraded_reach=degraded_reach,
            root_causes=roots,
            run=run,
            with_reach=reach,
            with_roots=root_causes,
        )


class _Run:
    """One evaluation: the affected region, its active divisions and the cached combinations."""

    def __init__(
        self,
        evaluator: Evaluator,
        problems: Mapping[str, ProblemState],
        prior: _Run | None = None,
    ) -> None:
        self.ev = evaluator
        topo = evaluator.topology
        self.topo = topo
        self.problems = problems
        self.affected = topo.upstream(problems)
        # Incremental: results of the previous run hold outside what the changes reach.
        self.prior_eval: dict[Assignment, tuple[frozenset[str], frozenset[str]]] = {}
        self.prior_bits: dict[tuple[Assignment, bool], dict[str, int]] = {}
        self.dirty: set[str] = set()
        self.dirty_layers: list[tuple[list[str], bool]] = []
        if prior is not None:
            changed = [
                c
                for c in set(problems) | set(prior.problems)
                if problems.get(c) != prior.problems.get(c)
            ]
            self.dirty = topo.upstream(changed)
            self.dirty_layers = _layers(topo, self.dirty)
            self.prior_eval = prior._eval_cache
            self.prior_bits = prior._bits_cache
        self.affected_services = sorted(
            (n for n in self.affected if topo.nodes[n].role == "business_service"),
            key=topo.order.__getitem__,
        )
        self.estimated = False
        # Active divisions and their affected parts.
        self.node_divisions: dict[str, set[str]] = {}
        self.affected_parts: dict[str, set[str]] = {}
        for node_id in self.affected:
            for entry in topo.nodes[node_id].entries:
                if entry.kind != "split":
                    continue
                hit = [
                    p for p, m in zip(entry.parts, entry.members, strict=True) if m in self.affected
                ]
                if hit:
                    self.node_divisions.setdefault(node_id, set()).add(entry.division)
                    self.affected_parts.setdefault(entry.division, set()).update(hit)
        # For each active division, the nodes whose affected closure splits on it.
        self.division_reach: dict[str, set[str]] = {}
        for node_id, divisions in self.node_divisions.items():
            for division in divisions:
                self.division_reach.setdefault(division, set()).add(node_id)
        for division, seeds in self.division_reach.items():
            self.division_reach[division] = topo.upstream(seeds)
        self._layers: list[tuple[list[str], bool]] | None = None
        self._scope_cache: dict[str, frozenset[str]] = {}
        self._combo_cache: dict[frozenset[str], list[_Combo]] = {}
        self._eval_cache: dict[Assignment, tuple[frozenset[str], frozenset[str]]] = {}
        self._bits_cache: dict[tuple[Assignment, bool], dict[str, int]] = {}

    # -- scopes and combinations -------------------------------------------------------------

    def scope_of(self, node_id: str) -> frozenset[str]:
        """Active divisions split on anywhere in the affected part of `node_id`'s closure."""
        cached = self._scope_cache.get(node_id)
        if cached is None:
            cached = frozenset(d for d, nodes in self.division_reach.items() if node_id in nodes)
            self._scope_cache[node_id] = cached
        return cached

    def combos_for(self, node_id: str) -> list[_Combo]:
        return self._combos(self.scope_of(node_id))

    def combos_for_many(self, node_ids: Iterable[str], key: str) -> list[_Combo]:
        scope: frozenset[str] = frozenset()
        for n in node_ids:
            scope |= self.scope_of(n)
        return self._combos(scope)

    def _choices(self, division_id: str) -> list[tuple[str, Fraction]]:
        division = self.topo.divisions[division_id]
        hit = self.affected_parts[division_id]
        choices = [(p, division.share(p)) for p in division.parts if p in hit]
        rest = ONE - sum((w for _, w in choices), ZERO)
        if rest > 0:
            choices.append((REST, rest))
        return choices

    def _combos(self, scope: frozenset[str]) -> list[_Combo]:
        cached = self._combo_cache.get(scope)
        if cached is not None:
            return cached
        divisions = sorted(scope)
        choices = [self._choices(d) for d in divisions]
        total = math.prod(len(c) for c in choices)
        weighted: list[tuple[Assignment, Fraction]] = []
        if total <= self.ev.bound:
            stack: list[tuple[int, Assignment, Fraction]] = [(0, (), ONE)]
            while stack:
                i, assignment, weight = stack.pop()
                if i == len(divisions):
                    weighted.append((assignment, weight))
                    continue
                for part, share in reversed(choices[i]):
                    stack.append((i + 1, (*assignment, (divisions[i], part)), weight * share))
        else:
            weighted = self._sample(divisions, choices)
            self.estimated = True
        combos = []
        for assignment, weight in weighted:
            # "rest" is what a missing division means: one key per distinct evaluation
            key = tuple(pair for pair in assignment if pair[1] != REST)
            down, bad = self._evaluate(key)
            combos.append(_Combo(weight, down, bad, dict(key)))
        self._combo_cache[scope] = combos
        return combos

    def _sample(
        self, divisions: list[str], choices: list[list[tuple[str, Fraction]]]
    ) -> list[tuple[Assignment, Fraction]]:
        """Deterministic sampling of combinations, weighted by shares (fixed seed per scope)."""
        n = self.ev.bound
        rng = random.Random(self.ev.seed ^ zlib.crc32(",".join(divisions).encode()))
        cumulative = []
        for options in choices:
            acc = 0.0
            row = []
            for part, share in options:
                acc += float(share)
                row.append((acc, part))
            cumulative.append(row)
        counts: dict[Assignment, int] = {}
        for _ in range(n):
            picked = []
            for division, row in zip(divisions, cumulative, strict=True):
                r = rng.random() * row[-1][0]
                part = next((p for edge, p in row if r < edge), row[-1][1])
                picked.append((division, part))
            key = tuple(picked)
            counts[key] = counts.get(key, 0) + 1
        return [(a, Fraction(c, n)) for a, c in sorted(counts.items())]

    # -- one combination -------------------------------------------------------------------

    @property
    def layers(self) -> list[tuple[list[str], bool]]:
        """The affected region grouped by strongly connected component, dependencies first."""
        if self._layers is None:
            self._layers = _layers(self.topo, self.affected)
        return self._layers

    def _changed_region(self, assignment: Assignment) -> set[str] | None:
        """Nodes whose state may differ from the all-rest evaluation; None for that one."""
        region: set[str] | None = None
        for division, part in assignment:
            if part != REST:
                region = region or set()
                region |= self.division_reach[division]
        return region

    def _evaluate(self, assignment: Assignment) -> tuple[frozenset[str], frozenset[str]]:
        """Least fixed point of down and of down-or-degraded ("bad") under `assignment`.

        Nodes are visited once each in dependency order (strongly connected components,
        leaves first); only inside a cycle is a component iterated until nothing changes.
        Only the nodes above the assigned splits are evaluated again per combination; the
        rest is shared with the evaluation in which every division is "rest".
        """
        cached = self._eval_cache.get(assignment)
        if cached is not None:
            return cached
        prior = self.prior_eval.get(assignment)
        layers = self.layers
        region: set[str] | None
        if prior is not None:
            region = self.dirty
            layers = self.dirty_layers
            down = set(prior[0] - region)
            bad = set(prior[1] - region)
        else:
            region = self._changed_region(assignment)
            if region is None:
                down, bad = set(), set()
            else:
                base_down, base_bad = self._evaluate(())
                down = set(base_down - region)
                bad = set(base_bad - region)
        parts = dict(assignment)
        nodes = self.topo.nodes
        problems = self.problems
        for group, cyclic in layers:
            while True:
                changed = False
                for n in group:
                    if n in down or (region is not None and n not in region):
                        continue
                    own = problems.get(n)
                    entries = nodes[n].entries
                    if own == "down" or _node_down(entries, down, parts):
                        down.add(n)
                        bad.add(n)
                        changed = True
                    elif n not in bad and (own == "degraded" or _node_bad(entries, bad, parts)):
                        bad.add(n)
                        changed = True
                if not (cyclic and changed):
                    break
        result = (frozenset(down), frozenset(bad))
        self._eval_cache[assignment] = result
        return result

    # -- reach and root causes -------------------------------------------------------------

    def reaches(
        self, services: Mapping[str, ServiceFigure]
    ) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
        """problem -> business services in its down-reach / degraded-reach (DESIGN §6).

        Each combination propagates problem bitsets upward along the edges that carry the
        trouble (down-carrying edges through down nodes; any edge through bad nodes), so one
        pass serves every service and every problem.
        """
        problems = sorted(self.problems, key=self.topo.order.__getitem__)
        bit = {p: self.ev.bit(p) for p in problems}
        by_bit = {b.bit_length() - 1: p for p, b in bit.items()}
        down_reach: dict[str, set[str]] = {p: set() for p in problems}
        degraded_reach: dict[str, set[str]] = {p: set() for p in problems}
        by_scope: dict[frozenset[str], list[str]] = {}
        for sid in services:
            by_scope.setdefault(self.scope_of(sid), []).append(sid)
        for scope, sids in by_scope.items():
            for combo in self._combos(scope):
                assignment = tuple(sorted(combo.parts.items()))
                down_bits = self._propagate(assignment, bit, down_only=True)
                bad_bits = self._propagate(assignment, bit, down_only=False)
                for sid in sids:
                    for bits, reach in (
                        (down_bits.get(sid, 0), down_reach),
                        (bad_bits.get(sid, 0), degraded_reach),
                    ):
                        while bits:
                            low = bits & -bits
                            p = by_bit.get(low.bit_length() - 1)
                            if p is not None:  # a bit left by a problem of an earlier step
                                reach[p].add(sid)
                            bits ^= low
        return (
            {p: frozenset(s) for p, s in down_reach.items()},
            {p: frozenset(s) for p, s in degraded_reach.items()},
        )

    def _propagate(
        self, assignment: Assignment, bit: Mapping[str, int], *, down_only: bool
    ) -> dict[str, int]:
        """Which problems each node is joined to, as bitsets, in dependency order."""
        key = (assignment, down_only)
        cached = self._bits_cache.get(key)
        if cached is not None:
            return cached
        prior = self.prior_bits.get(key)
        layers = self.layers
        region: set[str] | None
        if prior is not None:
            region = self.dirty
            layers = self.dirty_layers
            bits = dict(prior)
            for n in region:
                bits.pop(n, None)
        else:
            region = self._changed_region(assignment)
            if region is None:
                bits = {}
            else:
                base = self._propagate((), bit, down_only=down_only)
                bits = {n: b for n, b in base.items() if n not in region}
        down, bad = self._evaluate(assignment)
        trouble = down if down_only else bad
        parts = dict(assignment)
        nodes = self.topo.nodes
        for group, cyclic in layers:
            while True:
                changed = False
                for n in group:
                    if n not in trouble or (region is not None and n not in region):
                        continue
                    b = bit.get(n, 0)
                    for entry in nodes[n].entries:
                        if down_only and (
                            entry.kind == "soft" or not _entry_down(entry, down, parts)
                        ):
                            continue
                        for m in _entry_members_in_play(entry, parts):
                            b |= bits.get(m, 0)
                    if b != bits.get(n, 0):
                        bits[n] = b
                        changed = True
                if not (cyclic and changed):
                    break
        self._bits_cache[key] = bits
        return bits

    def root_causes(self) -> frozenset[str]:
        """Problems not explained by their dependencies outside their own cycle."""
        topo = self.topo
        roots = set()
        for p, own in self.problems.items():
            scc = topo.scc[p]
            entries = topo.nodes[p].entries
            inside = {m for e in entries for m in e.members if topo.scc[m] == scc}
            for combo in self.combos_for(p):
                # Members in p's own cycle count as up: only what comes from outside explains.
                if own == "down":
                    down = combo.down - inside if inside else combo.down
                    explained = _node_down(entries, down, combo.parts)
                else:
                    bad = combo.bad - inside if inside else combo.bad
                    explained = _node_bad(entries, bad, combo.parts)
                if not explained:
                    roots.add(p)
                    break
        return frozenset(roots)


def _entry_down(entry: Entry, down: set[str] | frozenset[str], parts: Mapping[str, str]) -> bool:
    kind = entry.kind
    if kind == "require":
        return entry.members[0] in down
    if kind == "any":
        return all(m in down for m in entry.members)
    if kind == "quorum":
        up = sum(1 for m in entry.members if m not in down)
        return up < entry.quorum
    if kind == "split":
        part = parts.get(entry.division, REST)
        member = entry.member_for(part) if part != REST else None
        return member is not None and member in down
    return False  # soft never cuts customers off


def _node_down(
    entries: tuple[Entry, ...], down: set[str] | frozenset[str], parts: Mapping[str, str]
) -> bool:
    return any(_entry_down(e, down, parts) for e in entries)


def _entry_members_in_play(entry: Entry, parts: Mapping[str, str]) -> tuple[str, ...]:
    """The members a customer with these parts actually uses through this entry."""
    if entry.kind != "split":
        return entry.members
    part = parts.get(entry.division, REST)
    member = entry.member_for(part) if part != REST else None
    return (member,) if member is not None else ()


def _node_bad(
    entries: tuple[Entry, ...], bad: set[str] | frozenset[str], parts: Mapping[str, str]
) -> bool:
    return any(m in bad for e in entries for m in _entry_members_in_play(e, parts))


def _layers(topo: Topology, nodes: set[str]) -> list[tuple[list[str], bool]]:
    """`nodes` grouped by strongly connected component in dependency order, leaves first;
    each group says whether it is cyclic (must be iterated to its least fixed point)."""
    rank = topo.rank
    scc = topo.scc
    layers: list[tuple[list[str], bool]] = []
    current = -1
    for n in sorted(nodes, key=rank.__getitem__):
        if scc[n] != current:
            current = scc[n]
            layers.append(([n], n in topo.dependents[n]))
        else:
            layers[-1][0].append(n)
    return [(group, cyclic or len(group) > 1) for group, cyclic in layers]
