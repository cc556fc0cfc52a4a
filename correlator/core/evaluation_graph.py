"""A topology indexed for the evaluator: dependency order, strongly connected components, the
entries naming each node, split parts served, segments per service. Built once per topology."""

from __future__ import annotations

from correlator.core.topology import Entry, Topology


class EvaluationGraph:
    """Static indexes over one topology (built once per topology, shared by its evaluators)."""

    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        nodes = topo.nodes
        scc = topo.scc
        rank = topo.rank
        self.order = sorted(nodes, key=rank.__getitem__)
        self.index = {n: i for i, n in enumerate(self.order)}
        self.scc_members: dict[int, list[str]] = {}
        for n in self.order:
            self.scc_members.setdefault(scc[n], []).append(n)
        self.scc_rank = {s: rank[members[0]] for s, members in self.scc_members.items()}
        self.cyclic = {
            s: len(members) > 1 or members[0] in topo.dependents.get(members[0], ())
            for s, members in self.scc_members.items()
        }
        # Affectedness: per SCC, the SCCs with an edge into it from outside (one per edge).
        self.ext_in: dict[int, list[int]] = {}
        # Reach: per node, the (dependent, entry) pairs that name it.
        self.uses: dict[str, list[tuple[str, Entry]]] = {}
        # Hit parts: per node, the (division, part) it serves in split entries (per entry).
        self.tokens: dict[str, list[tuple[str, str]]] = {}
        self.inside: dict[str, frozenset[str]] = {}
        for n, node in nodes.items():
            own = scc[n]
            inside = set()
            for entry in node.entries:
                seen = set()
                for m in entry.members:
                    if scc[m] != own:
                        self.ext_in.setdefault(scc[m], []).append(own)
                    else:
                        inside.add(m)
                    if m not in seen:
                        seen.add(m)
                        self.uses.setdefault(m, []).append((n, entry))
                if entry.kind == "split":
                    for part, m in zip(entry.parts, entry.members, strict=True):
                        self.tokens.setdefault(m, []).append((entry.division, part))
            self.inside[n] = frozenset(inside)
        self.division_ids = sorted(topo.divisions)
        self.division_bit = {d: 1 << i for i, d in enumerate(self.division_ids)}
        self.segments_of: dict[str, list[int]] = {}
        for i, segment in enumerate(topo.segments):
            for sid in segment.uses:
                self.segments_of.setdefault(sid, []).append(i)
        self.is_service = {n: node.role == "business_service" for n, node in nodes.items()}
        self.entries = {n: node.entries for n, node in nodes.items()}
        # The evaluator's inner loop: per node, the members of its `require` entries (their
        # masks are OR-ed as they are) apart from the entries that need their kind's rule.
        self.required: dict[str, tuple[str, ...]] = {}
        self.other_entries: dict[str, tuple[Entry, ...]] = {}
        for n, node in nodes.items():
            self.required[n] = tuple(e.members[0] for e in node.entries if e.kind == "require")
            self.other_entries[n] = tuple(e for e in node.entries if e.kind != "require")
        self.critical = {n: node.tier <= 2 for n, node in nodes.items()}


def graph_of(topo: Topology) -> EvaluationGraph:
    """The evaluation indexes of `topo`, built on first use and kept with it."""
    cached = topo._index.get("graph")
    if cached is None:
        cached = topo._index["graph"] = EvaluationGraph(topo)
    assert isinstance(cached, EvaluationGraph)
    return cached
