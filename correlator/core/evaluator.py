"""Impact evaluation (DESIGN §5): which customers are cut off, exactly, and because of what.

Per customer everything is boolean. Customers are divided by the active divisions (those with a
problem below one of their members); the graph is evaluated once per combination of parts,
weighted by the product of the parts' exact shares.

How it stays cheap in a storm:

- **All combinations at once.** A combination is a *key*: the (division, part) pairs it assigns,
  "rest" left out. Every key in use gets one bit, and each node keeps two integers, `down` and
  `bad` (down or degraded), with bit k set when the node is so under key k. One pass of integer
  AND/OR over a node's entries evaluates it under every combination.
- **Incremental, with cut-off.** An `Evaluator` keeps its last evaluation and moves it to the next
  problem set: only the components whose own state changed are re-evaluated, then their
  dependents in dependency order, and only as long as something actually changes. In a storm,
  once a service is down every further failure beneath it stops there. Strongly connected
  components (cycles) are re-evaluated as a unit to their least fixed point.
- **Affectedness by reference counts** (per strongly connected component), so growing or
  shrinking the affected region costs what flips, not the region.
- **Reach on demand.** A problem's down- and degraded-reach is an upward search from it that
  carries the keys under which the path holds; it is cached and recomputed only when something
  on or next to its upstream changed.

Memory is per node (a few integers), bounded by the topology, not by the storm.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction

from correlator.core.combinations import (
    REST,
    Combos,
    Key,
    enumerate_combinations,
)
from correlator.core.evaluation_graph import graph_of
from correlator.core.figures import (
    EMPTY,
    ONE,
    ZERO,
    Evaluation,
    ProblemState,
    SegmentFigure,
    ServiceFigure,
)
from correlator.core.topology import Entry, Topology

_EPOCHS = itertools.count()
_SERIALS = itertools.count(1)
"""Evaluation serials, unique across evaluators (0 means none)."""
"""Reach epochs, unique across evaluators (see `Evaluator.reach_dropped`)."""

PREREGISTER_LIMIT = 512
"""At most this many keys are given bits before any evaluation (see `_preregister`)."""

# -- the evaluator -------------------------------------------------------------------------------


class Evaluator:
    """Evaluates problem sets against one topology, each from the one evaluated before.

    `evaluate(problems)` moves this evaluator's state to `problems` and returns the figures; a
    fresh evaluator evaluates from scratch, and the two always agree (a property test holds it
    to that). Keep one evaluator per line of evaluations (the global one, one per incident).
    """

    def __init__(self, topology: Topology, *, bound: int = 4096, seed: int = 0) -> None:
        self.topology = topology
        self.bound = bound
        self.seed = seed
        self.g = graph_of(topology)
        self.problems: dict[str, ProblemState] = {}
        # Affectedness (upstream of a problem), per SCC.
        self._count: dict[int, int] = {}
        self._hits: dict[tuple[str, str], int] = {}
        # Per affected node: (scope bits, down mask, bad mask).
        self._scope: dict[str, int] = {}
        self._down: dict[str, int] = {}
        self._bad: dict[str, int] = {}
        # The key space.
        self._key_bit: dict[Key, int] = {}
        self._part_mask: dict[tuple[str, str], int] = {}
        self._full = 0
        self._combos: dict[int, Combos] = {}
        # Figures.
        self._services: dict[str, ServiceFigure] = {}
        self._segments: dict[str, SegmentFigure] = {}
        self._segment_scope: dict[int, int] = {}
        self._roots: set[str] = set()
        self._root_scope_of: dict[str, int] = {}
        # Reach, per problem, with the upstream it depends on.
        self._down_reach: dict[str, frozenset[str]] = {}
        self._bad_reach: dict[str, frozenset[str]] = {}
        self._seen_by: dict[str, int] = {}
        """Per node: the reach searches that went through it, as bits over `_slot`."""
        self._slot: dict[str, int] = {}
        """Per problem with a cached reach: its bit in `_seen_by` (slots are not reused
        until the whole index is rebuilt)."""
        self._slot_owner: list[str] = []
        self._last: Evaluation = EMPTY
        self._version = 0
        self._reach_epoch = next(_EPOCHS)
        self._dropped: set[str] = set()
        self._reach_valid = False
        self._roots_valid = False
        # Scopes in use, counted, so `estimated` costs the distinct scopes, not the services.
        self._svc_scope: dict[str, int] = {}
        self._scope_uses: dict[int, int] = {}
        self._pscope: dict[str, int] = {}
        self._shrunk = False
        """Did the last evaluation take bits away from some node (a recovery)?"""
        self._last_dirty: set[str] = set()
        self._near: set[str] = set()
        self._near_for = -1
        self._edges: dict[str, list[tuple[str, Entry, str, int]]] = {}
        """Reach search edges per node (their in-play masks depend on the key space)."""
        self._entry_memo: dict[int, int] = {}
        """Down masks of entries met by reach searches since the last change of node values."""
        self._problem_scope_uses: dict[int, int] = {}
        self._new_keys = False
        self._combos_of(0)  # the all-rest key: most evaluations need no other
        self._base_keys = self._preregister()
        self._key_space()
        self._new_keys = False

    # -- public -------------------------------------------------------------------------------

    def evaluate(
        self,
        problems: Mapping[str, ProblemState],
        *,
        reach: bool = False,
        root_causes: bool = False,
        since_last: Collection[str] | None = None,
    ) -> Evaluation:
        """Evaluate `problems` (component id -> own state); unknown ids are ignored.

        `since_last`, when given, is the caller's promise that only those ids may differ from
        the `problems` of its previous call and that every id is the topology's: a storm's
        thousands of problems are then not compared one by one each step.
        """
        nodes = self.topology.nodes
        if since_last is not None:
            wanted = dict(problems)
            before = self.problems
            differ = {c for c in since_last if wanted.get(c) != before.get(c)}
        else:
            if problems.keys() <= nodes.keys():  # set operations on the views run in C
                wanted = dict(problems)
            else:
                wanted = {c: s for c, s in problems.items() if c in nodes}
            differ = {c for c, _ in wanted.items() ^ self.problems.items()}
        order = self.topology.order
        changed = sorted(differ, key=order.__getitem__)
        if (
            not changed
            and (self._reach_valid or not reach)
            and (self._roots_valid or not root_causes)
        ):
            return self._last if self.problems else EMPTY
        self._version += 1
        self._dropped = set()
        self._entry_memo = {}
        self._shrunk = False
        flipped = self._set_problems(wanted, changed)
        dirty_nodes = self._propagate([self.topology.scc[c] for c in changed])
        hits_changed = self._update_hits(flipped)
        self._count_problem_scopes(dirty_nodes, changed)
        dirty_services, keys_grew = self._refresh_combos(hits_changed, dirty_nodes)
        if keys_grew:
            self._key_space()
            dirty_nodes |= self._recompute_all()
            is_service = self.g.is_service
            dirty_services = {n for n in self._scope if is_service[n]} | set(self._svc_scope)
        everything = keys_grew or hits_changed
        services_changed = self._service_figures(dirty_services)
        segments_changed = self._segment_figures(dirty_services, everything)

        if root_causes:
            self._root_causes(dirty_nodes, changed, everything or not self._roots_valid)
        self._roots_valid = root_causes
        self._last_dirty = dirty_nodes
        if reach:
            self._reaches(dirty_nodes, everything or not self._reach_valid, changed)
        if not reach:
            self._reach_epoch = next(_EPOCHS)  # reaches were not kept current
        self._reach_valid = reach
        if not self.problems:
            self._last = EMPTY
            return EMPTY
        previous = self._last
        self._last = Evaluation(
            problems=self.problems,  # replaced, never changed in place, by each evaluation
            services=dict(self._services),
            segments=dict(self._segments),
            estimated=self._estimated(root_causes),
            down_reach=_Reach(self, True) if reach else {},
            degraded_reach=_Reach(self, False) if reach else {},
            root_causes=frozenset(self._roots) if root_causes else frozenset(),
            serial=next(_SERIALS),
            previous_serial=previous.serial if previous.serial else -1,
            services_changed=frozenset(services_changed),
            segments_changed=frozenset(segments_changed),
        )
        return self._last

    # -- affectedness ---------------------------------------------------------------------------

    def _set_problems(self, wanted: dict[str, ProblemState], changed: list[str]) -> list[str]:
        """Apply the new problem set; returns the nodes whose affectedness flipped."""
        g = self.g
        scc = self.topology.scc
        count = self._count
        was: dict[int, bool] = {}
        stack: list[tuple[int, int]] = []
        for c in changed:
            before, after = c in self.problems, c in wanted
            if before != after:
                stack.append((scc[c], 1 if after else -1))
        self.problems = wanted
        while stack:
            s, delta = stack.pop()
            old = count.get(s, 0)
            new = old + delta
            if new:
                count[s] = new
            else:
                del count[s]
            if (old > 0) != (new > 0):
                was.setdefault(s, old > 0)
                for t in g.ext_in.get(s, ()):
                    stack.append((t, delta))
        # an SCC may flip on and off again within one change: only the net flips count
        return [n for s, before in was.items() if (s in count) != before for n in g.scc_members[s]]

    def _count_problem_scopes(self, dirty: set[str], changed: list[str]) -> None:
        """Keep the scopes of the problems counted (for `estimated`) as they change."""
        uses = self._problem_scope_uses
        for p in {*changed, *(n for n in dirty if n in self.problems or n in self._pscope)}:
            before = self._pscope.pop(p, None)
            if before is not None:
                uses[before] -= 1
                if not uses[before]:
                    del uses[before]
            if p in self.problems:
                scope = self._scope.get(p, 0)
                self._pscope[p] = scope
                uses[scope] = uses.get(scope, 0) + 1

    def _affected(self, n: str) -> bool:
        return self.topology.scc[n] in self._count

    def _update_hits(self, flipped: list[str]) -> bool:
        """Count the split parts whose member is affected; True when a division's parts changed."""
        tokens = self.g.tokens
        hits = self._hits
        changed = False
        for n in flipped:
            toks = tokens.get(n)
            if not toks:
                continue
            delta = 1 if self._affected(n) else -1
            for token in toks:
                old = hits.get(token, 0)
                new = old + delta
                if new:
                    hits[token] = new
                else:
                    del hits[token]
                if (old > 0) != (new > 0):
                    changed = True
                    # every scope over this division has other combinations now
                    bit = self.g.division_bit[token[0]]
                    for scope in [s for s in self._combos if s & bit]:
                        del self._combos[scope]
        return changed

    # -- node values ----------------------------------------------------------------------------

    def _propagate(self, seeds: Iterable[int]) -> set[str]:
        """Re-evaluate `seeds` (SCC ids) and, while values change, their dependents.

        The hottest loop of the core: the common case (an affected node outside any cycle) is
        `_evaluate_scc`'s first branch inlined, with everything it touches bound locally."""
        g = self.g
        scc_rank = g.scc_rank
        heap = [(scc_rank[s], s) for s in set(seeds)]
        heapq.heapify(heap)
        queued = {s for _, s in heap}
        changed: set[str] = set()
        scc = self.topology.scc
        dependents = self.topology.dependents
        count, cyclic, scc_members = self._count, g.cyclic, g.scc_members
        scope, down, bad = self._scope, self._down, self._bad
        node_value, evaluate_scc = self._node_value, self._evaluate_scc
        heappop, heappush = heapq.heappop, heapq.heappush
        no_dependents: tuple[str, ...] = ()
        while heap:
            _, s = heappop(heap)
            queued.discard(s)
            if s in count and not cyclic[s]:
                n = scc_members[s][0]
                old_down, old_bad = down.get(n, 0), bad.get(n, 0)
                new_scope, new_down, new_bad = node_value(n)
                if new_scope == scope.get(n) and new_down == old_down and new_bad == old_bad:
                    continue
                scope[n], down[n], bad[n] = new_scope, new_down, new_bad
                if old_down & ~new_down or old_bad & ~new_bad:
                    self._shrunk = True
                moved: Sequence[str] = (n,)
            else:
                moved = evaluate_scc(s)
            for n in moved:
                changed.add(n)
                for d in dependents.get(n, no_dependents):
                    t = scc[d]
                    if t != s and t not in queued:
                        queued.add(t)
                        heappush(heap, (scc_rank[t], t))
        return changed

    def _recompute_all(self) -> set[str]:
        """Every affected node again (the key space changed); returns those that changed."""
        changed: set[str] = set()
        for s in sorted(self._count, key=self.g.scc_rank.__getitem__):
            changed.update(self._evaluate_scc(s))
        return changed

    def _evaluate_scc(self, s: int) -> Sequence[str]:
        """Evaluate one SCC; returns its nodes whose (scope, down, bad) changed."""
        members = self.g.scc_members[s]
        scope, down, bad = self._scope, self._down, self._bad
        if s in self._count and not self.g.cyclic[s]:  # the common case: one node, no cycle
            n = members[0]
            old_down, old_bad = down.get(n, 0), bad.get(n, 0)
            old_scope = scope.get(n)
            new_scope, new_down, new_bad = self._node_value(n)
            if new_scope == old_scope and new_down == old_down and new_bad == old_bad:
                return ()
            scope[n], down[n], bad[n] = new_scope, new_down, new_bad
            if old_down & ~new_down or old_bad & ~new_bad:
                self._shrunk = True
            return members
        if s not in self._count:
            gone = [n for n in members if n in scope]
            for n in gone:
                del scope[n]
                lost = down.pop(n, 0) | bad.pop(n, 0)
                if lost:
                    self._shrunk = True
            return gone
        old = {n: (scope.get(n), down.get(n, 0), bad.get(n, 0)) for n in members}
        if self.g.cyclic[s]:
            for n in members:  # least fixed point: start from nothing
                scope[n], down[n], bad[n] = 0, 0, 0
            while True:
                moved = False
                for n in members:
                    value = self._node_value(n)
                    if value != (scope[n], down[n], bad[n]):
                        scope[n], down[n], bad[n] = value
                        moved = True
                if not moved:
                    break
        else:
            n = members[0]
            scope[n], down[n], bad[n] = self._node_value(n)
        changed = [n for n in members if old[n] != (scope[n], down[n], bad[n])]
        for n in changed:
            _, d, b = old[n]
            if d & ~down[n] or b & ~bad[n]:
                self._shrunk = True
        return changed

    def _node_value(self, n: str) -> tuple[int, int, int]:
        full = self._full
        scopes, downs, bads = self._scope, self._down, self._bad
        own = self.problems.get(n)
        scope = 0
        down = full if own == "down" else 0
        bad = full if own is not None else 0
        for m in self.g.required[n]:
            scope |= scopes.get(m, 0)
            down |= downs.get(m, 0)
            bad |= bads.get(m, 0)
        for entry in self.g.other_entries[n]:
            kind = entry.kind
            members = entry.members
            if kind == "split":
                part_mask = self._part_mask
                division = entry.division
                hit = False
                for part, m in zip(entry.parts, members, strict=True):
                    ms = scopes.get(m)
                    if ms is None:
                        continue
                    hit = True
                    scope |= ms
                    pm = part_mask.get((division, part), 0)
                    if pm:
                        down |= pm & downs.get(m, 0)
                        bad |= pm & bads.get(m, 0)
                if hit:
                    scope |= self.g.division_bit[division]
            else:
                for m in members:
                    scope |= scopes.get(m, 0)
                    bad |= bads.get(m, 0)
                if kind == "any":
                    down |= _all_down(members, downs, full)
                elif kind == "quorum":
                    down |= _too_few_up(entry, downs, full)
        return scope, down, bad | down

    def _entry_down(self, entry: Entry, downs: Mapping[str, int]) -> int:
        """Keys under which `entry` is down (cuts its node off), given member down masks."""
        kind = entry.kind
        if kind == "require":
            return downs.get(entry.members[0], 0)
        if kind == "any":
            return _all_down(entry.members, downs, self._full)
        if kind == "quorum":
            return _too_few_up(entry, downs, self._full)
        if kind == "split":
            out = 0
            for part, m in zip(entry.parts, entry.members, strict=True):
                out |= self._part_mask.get((entry.division, part), 0) & downs.get(m, 0)
            return out
        return 0

    def _in_play(self, entry: Entry, member: str) -> int:
        """Keys under which a customer uses `member` through `entry`."""
        if entry.kind != "split":
            return self._full
        out = 0
        for part, m in zip(entry.parts, entry.members, strict=True):
            if m == member:
                out |= self._part_mask.get((entry.division, part), 0)
        return out

    # -- combinations and the key space ---------------------------------------------------------

    def _choices(self, division_id: str) -> list[tuple[str, Fraction]]:
        division = self.topology.divisions[division_id]
        hits = self._hits
        choices = [
            (p, s)
            for p, s in zip(division.parts, division.shares, strict=True)
            if (division_id, p) in hits
        ]
        rest = ONE - sum((w for _, w in choices), ZERO)
        if rest > 0:
            choices.append((REST, rest))
        return choices

    def _combos_of(self, scope: int) -> Combos:
        cached = self._combos.get(scope)
        if cached is None:
            divisions = [d for d in self.g.division_ids if scope & self.g.division_bit[d]]
            keys, weights, sampled = enumerate_combinations(
                divisions, [self._choices(d) for d in divisions], self.bound, self.seed
            )
            cached = self._combos[scope] = Combos(keys, weights, sampled, [])
            self._register(cached)
        return cached

    def _register(self, combos: Combos) -> None:
        key_bit = self._key_bit
        bits = []
        for key in combos.keys:
            bit = key_bit.get(key)
            if bit is None:
                bit = key_bit[key] = len(key_bit)
                self._new_keys = True
            bits.append(bit)
        combos.bits = bits
        combos.mask = 0
        for bit in bits:
            combos.mask |= 1 << bit
        denominator = math.lcm(*(w.denominator for w in combos.weights)) if bits else 1
        combos.denominator = denominator
        combos.numerators = [w.numerator * (denominator // w.denominator) for w in combos.weights]

    def _key_space(self) -> None:
        """Rebuild the part masks and the full mask after keys were added."""
        self._edges = {}
        part_mask: dict[tuple[str, str], int] = {}
        for key, bit in self._key_bit.items():
            for pair in key:
                part_mask[pair] = part_mask.get(pair, 0) | (1 << bit)
        self._part_mask = part_mask
        self._full = (1 << len(self._key_bit)) - 1

    def _refresh_combos(self, hits_changed: bool, dirty_nodes: set[str]) -> tuple[set[str], bool]:
        """Make sure every scope in use has its combinations and keys; returns the services
        whose figures must be computed again and whether the key space grew."""
        self._new_keys = False
        is_service = self.g.is_service
        dirty = {n for n in dirty_nodes if is_service[n]}
        if hits_changed:
            dirty |= set(self._svc_scope) | set(self._services)
        if not self._full:
            self._combos_of(0)  # the all-rest key, always present
        for sid in dirty:
            scope = self._scope.get(sid)
            if scope is not None:
                self._combos_of(scope)
        scope_of = self._scope
        for p in self.problems if hits_changed else (n for n in dirty_nodes if n in self.problems):
            self._combos_of(scope_of.get(p, 0))
        if self._new_keys:
            self._garbage_collect()
        return dirty, self._new_keys

    def _preregister(self) -> list[Key]:
        """Give every combination of the named divisions a bit up front when they are few.

        Keys only cost bits; a key added later costs evaluating every node again. With few
        divisions (the common case) every key any scope can ask for is known from the start.
        """
        divisions = [self.topology.divisions[d] for d in self.g.division_ids]
        keys: list[Key] = [()]
        for division in divisions:
            keys = [
                (*key, (division.id, part))
                for key in keys
                for part in (None, *division.parts)
                if part is not None
            ] + keys
            if len(keys) > PREREGISTER_LIMIT:
                return []
        for key in keys:
            if key not in self._key_bit:
                self._key_bit[key] = len(self._key_bit)
        return keys

    def _garbage_collect(self) -> None:
        """Drop keys no scope in use needs any more, when they are most of the key space."""
        live = sum(len(c.keys) for c in self._combos.values()) + len(self._base_keys)
        if len(self._key_bit) <= 64 or len(self._key_bit) <= 4 * live:
            return
        is_service = self.g.is_service
        in_use = {scope for n, scope in self._scope.items() if is_service[n]}
        in_use |= {self._scope.get(p, 0) for p in self.problems}
        in_use |= set(self._segment_scope.values())
        in_use.add(0)
        self._key_bit = {key: bit for bit, key in enumerate(self._base_keys)}
        self._combos = {s: c for s, c in self._combos.items() if s in in_use}
        for combos in self._combos.values():
            self._register(combos)
        self._new_keys = True

    def _estimated(self, with_roots: bool) -> bool:
        combos = self._combos
        scopes = set(self._scope_uses)
        scopes |= set(self._segment_scope.values())
        if with_roots:
            scopes |= set(self._problem_scope_uses)
        return any(combos[s].sampled for s in scopes if s in combos)

    # -- figures --------------------------------------------------------------------------------

    def _weight(self, combos: Combos, mask: int) -> Fraction:
        if not mask:
            return ZERO
        if (mask & combos.mask) == combos.mask:
            return ONE
        numerators = combos.numerators or []
        total = 0
        for bit, numerator in zip(combos.bits, numerators, strict=True):
            if mask >> bit & 1:
                total += numerator
        return Fraction(total, combos.denominator)

    def _service_figures(self, dirty: set[str]) -> set[str]:
        """Figures of `dirty` services; returns those whose figure changed."""
        changed = set()
        uses = self._scope_uses
        for sid in dirty:
            scope = self._scope.get(sid)
            before = self._svc_scope.get(sid)
            if scope != before:
                if before is not None:
                    uses[before] -= 1
                    if not uses[before]:
                        del uses[before]
                    del self._svc_scope[sid]
                if scope is not None:
                    uses[scope] = uses.get(scope, 0) + 1
                    self._svc_scope[sid] = scope
            figure = None
            if scope is not None:
                combos = self._combos_of(scope)
                down = self._down[sid] & combos.mask
                only_bad = self._bad[sid] & ~down & combos.mask
                f = ServiceFigure(sid, self._weight(combos, down), self._weight(combos, only_bad))
                if f.state != "ok":
                    figure = f
            old = self._services.get(sid)
            if figure == old:
                continue
            if figure is None:
                del self._services[sid]
            else:
                self._services[sid] = figure
            changed.add(sid)
        return changed

    def _segment_figures(self, services: set[str], everything: bool) -> set[str]:
        """Figures of the segments that use `services`; returns the ids whose figure changed
        (appeared, changed or gone)."""
        topo = self.topology
        changed: set[str] = set()
        if everything:
            indexes: Iterable[int] = range(len(topo.segments))
        else:
            indexes = sorted({i for s in services for i in self.g.segments_of.get(s, ())})
        todo = []
        for i in indexes:
            segment = topo.segments[i]
            used = [s for s in segment.uses if s in self._services]
            if not used:
                self._segment_scope.pop(i, None)
                if self._segments.pop(segment.id, None) is not None:
                    changed.add(segment.id)
                continue
            scope = 0
            for s in used:
                scope |= self._scope[s]
            self._segment_scope[i] = scope
            self._combos_of(scope)
            todo.append((segment, used, scope))
        if self._new_keys:  # a scope no service has: evaluate its keys everywhere
            self._key_space()
            self._recompute_all()
            self._new_keys = False
            self._reach_epoch = next(_EPOCHS)  # the searches' key masks changed
        for segment, used, scope in todo:
            combos = self._combos_of(scope)
            down = bad = critical = 0
            for s in used:
                down |= self._down[s]
                bad |= self._bad[s]
                if self.g.critical[s]:
                    critical |= self._down[s]
            down &= combos.mask
            figure = SegmentFigure.of(
                segment.id,
                segment.customers,
                self._weight(combos, down),
                self._weight(combos, bad & ~down & combos.mask),
                self._weight(combos, critical & combos.mask),
            )
            if self._segments.get(segment.id) != figure:  # unchanged: keep the object, so
                self._segments[segment.id] = figure  # what is cached by identity stays valid
                changed.add(segment.id)
        return changed

    # -- root causes ----------------------------------------------------------------------------

    def _root_causes(self, dirty: set[str], changed: list[str], everything: bool) -> None:
        """Problems not explained by their dependencies outside their own cycle."""
        problems = self.problems
        if everything:
            self._roots.intersection_update(problems)
            candidates: Iterable[str] = problems
        else:
            # The roots were among the problems before (they were all judged then): only a
            # changed one can have left.
            self._roots.difference_update([c for c in changed if c not in problems])
            dependents = self.topology.dependents
            near = {*dirty, *changed}
            near.update(d for n in dirty for d in dependents.get(n, ()))
            candidates = [p for p in near if p in problems]
        for p in candidates:
            own = problems[p]
            combos = self._combos_of(self._scope.get(p, 0))
            inside = self.g.inside[p]
            downs: Mapping[str, int] = self._down
            bads: Mapping[str, int] = self._bad
            if inside:
                downs = {m: 0 for m in inside} | {
                    m: self._down.get(m, 0)
                    for e in self.topology.nodes[p].entries
                    for m in e.members
                    if m not in inside
                }
                bads = {m: 0 for m in inside} | {
                    m: self._bad.get(m, 0)
                    for e in self.topology.nodes[p].entries
                    for m in e.members
                    if m not in inside
                }
            explained = 0
            for entry in self.topology.nodes[p].entries:
                if own == "down":
                    explained |= self._entry_down(entry, downs)
                else:
                    for m in entry.members:
                        explained |= self._in_play(entry, m) & bads.get(m, 0)
            if (explained & combos.mask) == combos.mask:
                self._roots.discard(p)
            else:
                self._roots.add(p)

    # -- reach ----------------------------------------------------------------------------------

    def _reaches(self, dirty: set[str], everything: bool, changed: list[str]) -> None:
        """Forget the reaches (DESIGN §6) that this change may have altered; the rest stay.

        A reach search from a problem walks up through nodes (`visited`); it can only come out
        differently when one of them changed, or a member or an entry-sibling of a changed
        node is one of them (the entry's state, or a new dependent, changed).
        """
        caches = (self._down_reach, self._bad_reach)
        problems = self.problems
        if everything or len(self._slot_owner) > 4 * len(problems) + 256:
            for cache in caches:
                cache.clear()
            self._seen_by.clear()
            self._slot.clear()
            self._slot_owner.clear()
            self._reach_epoch = next(_EPOCHS)
            return
        # Reaches are kept for problems only, and all others were forgotten last time: only
        # a changed one can have left the problems since.
        left = [c for c in changed if c not in problems]
        if not dirty:
            for p in left:
                self._forget(p)
            return
        near = self._near_changes()
        seen_by = self._seen_by
        hit = 0
        for n in near:
            hit |= seen_by.get(n, 0)
        owners = self._slot_owner
        while hit:
            low = hit & -hit
            self._forget(owners[low.bit_length() - 1])
            hit ^= low
        for p in left:
            self._forget(p)

    def reach_dropped(self) -> tuple[int, int, frozenset[str]]:
        """What the last evaluation may have changed in the reaches: (epoch, version, problems).

        Within one epoch, the reach of a problem not in `problems` is what it was at the
        previous version; a new epoch (unique across evaluators) means any reach may have
        changed.
        """
        return self._reach_epoch, self._version, frozenset(self._dropped)

    def _forget(self, p: str) -> None:
        """Drop `p`'s cached reaches (its stale bits in `_seen_by` only cost a spare drop)."""
        if self._slot.pop(p, None) is None:
            return
        self._dropped.add(p)
        self._down_reach.pop(p, None)
        self._bad_reach.pop(p, None)

    def reach(self, p: str, *, down_only: bool) -> frozenset[str]:
        """`p`'s down-reach (or degraded-reach), computed on first use after a change."""
        cache = self._down_reach if down_only else self._bad_reach
        found = cache.get(p)
        if found is None:
            found, visited = self._reach_of(p, down_only=down_only)
            self._remember(p, cache, found, visited)
        return found

    def _remember(
        self,
        p: str,
        cache: dict[str, frozenset[str]],
        found: frozenset[str],
        visited: Iterable[str],
    ) -> None:
        """Cache `p`'s reach, forgotten when a node its search went through changes."""
        slot = self._slot.get(p)
        if slot is None:
            slot = self._slot[p] = len(self._slot_owner)
            self._slot_owner.append(p)
        cache[p] = found
        bit = 1 << slot
        seen_by = self._seen_by
        for n in visited:
            seen_by[n] = seen_by.get(n, 0) | bit

    def search(
        self,
        sources: set[str],
        down_only: bool,
        previous: ReachSearch | None = None,
        *,
        added: Collection[str] | None = None,
    ) -> ReachSearch:
        """The business services joined to any of `sources` (the union of their reaches).

        Continues `previous` (a search of this evaluator over fewer or the same sources) when
        the evaluations since only added trouble: a storm then costs the new edges, not the
        region. After a recovery, a key-space change or a gap, it starts over.

        `added`, given with `previous`, is the caller's promise that `sources` are problems
        now and are `previous`'s sources and `added`, none gone: the sources are then not
        compared one by one (an incident of thousands is continued every step).
        """
        epoch, version = self._reach_epoch, self._version
        continuing = (
            previous is not None
            and previous.down_only == down_only
            and previous.epoch == epoch
            and (
                previous.version == version
                or (previous.version == version - 1 and not self._shrunk)
            )
        )
        new: set[str] | None = None
        if previous is not None and continuing:
            if added is not None:
                new = set(added) - previous.sources
            else:
                # Set operations run in C: nothing here walks all the sources in Python.
                sources = self.problems.keys() & sources
                if previous.sources <= sources:
                    new = sources - previous.sources
        if previous is not None and new is not None:
            found = previous
            found.sources |= new
            # A source's own state changes only where the last evaluation changed something.
            grew = new if found.version == version else new | (self._last_dirty & sources)
            stack = list(new)
            if found.version != version:
                stack.extend(self._frontier(found.carried))
        else:
            found = ReachSearch(down_only, epoch)
            found.sources = grew = set(self.problems.keys() & sources)
            stack = list(grew)
        found.version = version
        states = self._down if down_only else self._bad
        carried = found.carried
        for p in grew:
            carried[p] = carried.get(p, 0) | states.get(p, 0)
        self._continue(found, stack, states)
        return found

    def _near_changes(self) -> set[str]:
        """The nodes the last evaluation changed, their members and their entry-siblings: a
        reach search through any of them may now come out differently (computed once)."""
        if self._near_for == self._version:
            return self._near
        nodes = self.topology.nodes
        dependents = self.topology.dependents
        dirty = self._last_dirty
        near = set(dirty)
        for n in dirty:
            for e in nodes[n].entries:
                near.update(e.members)
            for y in dependents.get(n, ()):
                for e in nodes[y].entries:
                    if n in e.members:
                        near.update(e.members)
        self._near, self._near_for = near, self._version
        return near

    def _frontier(self, carried: Mapping[str, int]) -> list[str]:
        """Searched nodes whose edges up may carry more since the last evaluation."""
        near = self._near_changes()
        if len(near) < len(carried):
            return [n for n in near if n in carried]
        return [n for n in carried if n in near]

    def _continue(
        self,
        found: ReachSearch,
        stack: list[str],
        states: Mapping[str, int],
        stop: Callable[[str], bool] | None = None,
    ) -> None:
        """Propagate the carried masks from `stack` until nothing grows, or until `stop`
        (called with each business service reached) says enough."""
        carried = found.carried
        down_only = found.down_only
        edges = self._edges
        memo = self._entry_memo
        is_service = self.g.is_service
        services = found.services
        while stack:
            x = stack.pop()
            mask = carried.get(x, 0)
            if not mask:
                continue
            out_edges = edges.get(x)
            if out_edges is None:
                out_edges = edges[x] = self._edges_of(x)
            for y, entry, kind, in_play in out_edges:
                carry = mask & states.get(y, 0)
                if not carry:
                    continue
                if down_only:
                    if kind == "soft":
                        continue
                    if kind != "require":
                        key = id(entry)
                        entry_down = memo.get(key)
                        if entry_down is None:
                            entry_down = memo[key] = self._entry_down(entry, states)
                        carry &= entry_down
                if kind == "split":
                    carry &= in_play
                if carry:
                    before = carried.get(y, 0)
                    after = carry | before
                    if after != before:
                        carried[y] = after
                        stack.append(y)
                        if is_service[y] and y not in services:
                            scope = self._scope.get(y)
                            if scope is not None and after & self._combos_of(scope).mask:
                                services.add(y)
                                if stop is not None and stop(y):
                                    return

    def _edges_of(self, x: str) -> list[tuple[str, Entry, str, int]]:
        """The entries naming `x`: (dependent, entry, kind, keys under which `x` is in play)."""
        return [(y, e, e.kind, self._in_play(e, x)) for y, e in self.g.uses.get(x, ())]

    def cuts_off(self, p: str, targets: Sequence[frozenset[str]]) -> tuple[bool, list[bool]]:
        """Is `p`'s down-reach non-empty, and which of `targets` (sets of business services)
        does it meet? The search stops as soon as both are known, so a problem inside a
        storm's region is not walked through the whole region (not cached; `reach` is)."""
        cached = self._down_reach.get(p)
        if cached is not None:
            return bool(cached), [not cached.isdisjoint(t) for t in targets]
        hit = [False] * len(targets)
        start = self._down.get(p, 0) if p in self.problems else 0
        if not start:
            return False, hit
        left = len(targets)

        def met(service: str) -> bool:
            nonlocal left
            for i, target in enumerate(targets):
                if not hit[i] and service in target:
                    hit[i] = True
                    left -= 1
            return not left

        found = ReachSearch(True, self._reach_epoch)
        found.carried[p] = start
        self._continue(found, [p], self._down, met)
        if left or not found.services:  # never stopped early: searched whole, its reach
            self._remember(p, self._down_reach, frozenset(found.services), found.carried)
        return bool(found.services), hit

    def _reach_of(self, p: str, *, down_only: bool) -> tuple[frozenset[str], Iterable[str]]:
        """Business services joined to `p` by a path of down (or bad) nodes in one combination."""
        states = self._down if down_only else self._bad
        start = states.get(p, 0)
        if not start:
            return frozenset(), (p,)
        found = ReachSearch(down_only, self._reach_epoch)
        found.carried[p] = start
        self._continue(found, [p], states)
        return frozenset(found.services), found.carried


class ReachSearch:
    """A reach search from a set of problems, kept so the next one can continue it."""

    __slots__ = ("carried", "down_only", "epoch", "services", "sources", "version")

    def __init__(self, down_only: bool, epoch: int) -> None:
        self.down_only = down_only
        self.epoch = epoch
        self.version = -1
        self.sources: set[str] = set()
        """Its sources (its own: never shared with a caller)."""
        self.carried: dict[str, int] = {}
        """Node -> keys under which a path of trouble joins it to a source."""
        self.services: set[str] = set()
        """Business services reached in one of their own combinations."""


class _Reach(Mapping[str, frozenset[str]]):
    """The reaches of one evaluation's problems, each computed when first read.

    Valid until its evaluator evaluates the next problem set (the tracker reads them within
    the step); reading one later is a programming error.
    """

    def __init__(self, evaluator: Evaluator, down_only: bool) -> None:
        self._evaluator = evaluator
        self._down_only = down_only
        self._problems = evaluator.problems
        self._version = evaluator._version

    def __getitem__(self, problem: str) -> frozenset[str]:
        if problem not in self._problems:
            raise KeyError(problem)
        if self._evaluator._version != self._version:
            raise RuntimeError("reach read after its evaluator moved on")
        return self._evaluator.reach(problem, down_only=self._down_only)

    def __iter__(self) -> Iterator[str]:
        return iter(self._problems)

    def __len__(self) -> int:
        return len(self._problems)


def _all_down(members: Sequence[str], downs: Mapping[str, int], full: int) -> int:
    """Keys under which every one of `members` is down (an `any` entry cuts its node off)."""
    all_down = full
    for m in members:
        all_down &= downs.get(m, 0)
        if not all_down:
            break
    return all_down


def _too_few_up(entry: Entry, downs: Mapping[str, int], full: int) -> int:
    """Keys under which fewer than `entry.quorum` members are up."""
    members = entry.members
    need = len(members) - entry.quorum + 1  # this many down members cut it off
    if need <= 0:
        return full
    at_least = [full] + [0] * need
    for i, m in enumerate(members):
        d = downs.get(m, 0)
        if not d:
            continue
        for j in range(min(need, i + 1), 0, -1):
            at_least[j] |= at_least[j - 1] & d
    return at_least[need]
