"""The immutable, indexed service topology (DESIGN §3).

Components and business services are the nodes of one dependency graph; segments use business
services. Every `depends_on` entry is normalised into an `Entry`: bare ids and `all` members
become one `require` entry each; `split` entries name a `Division` whose parts carry exact
`Fraction` shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from correlator.core.alert_rules import AlertRule

EntryKind = Literal["require", "any", "quorum", "soft", "split"]
NodeRole = Literal["component", "business_service"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One dependency of a node.

    For `split`, `members[i]` serves `parts[i]` of `division`; for `quorum`, `quorum` members of
    `members` must be up.
    """

    kind: EntryKind
    members: tuple[str, ...]
    quorum: int = 0
    division: str = ""
    parts: tuple[str, ...] = ()

    def member_for(self, part: str) -> str | None:
        """The member serving `part` of this split, or None."""
        for p, m in zip(self.parts, self.members, strict=True):
            if p == part:
                return m
        return None


@dataclass(frozen=True, slots=True)
class Division:
    """A named way customers are partitioned; shares are exact and sum to 1."""

    id: str
    parts: tuple[str, ...]
    shares: tuple[Fraction, ...]
    anonymous: bool = False

    def share(self, part: str) -> Fraction:
        return self.shares[self.parts.index(part)]


@dataclass(frozen=True, slots=True)
class Node:
    """A component or a business service."""

    id: str
    role: NodeRole
    name: str
    entries: tuple[Entry, ...]
    kind: str = ""
    tier: int = 3
    owner: str | None = None
    runbook: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()
    match: tuple[tuple[tuple[str, str], ...], ...] = ()
    """Label selectors: each a tuple of (label, glob) pairs."""


@dataclass(frozen=True, slots=True)
class Segment:
    """Customers the business serves, and the business services they use."""

    id: str
    name: str
    customers: int
    uses: tuple[str, ...]
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Topology:
    """A validated topology with the indexes the engine needs.

    Build it with `correlator.core.topology_parse.parse_topology`, never by hand.
    """

    name: str
    version: str
    nodes: Mapping[str, Node]
    segments: tuple[Segment, ...]
    divisions: Mapping[str, Division]
    dependents: Mapping[str, tuple[str, ...]]
    """node id -> ids of nodes with an entry naming it (sorted)."""
    scc: Mapping[str, int]
    """node id -> index of its strongly connected component."""
    cycles: tuple[tuple[str, ...], ...]
    """Each cycle (an SCC with more than one node, or a self-loop), members sorted."""
    order: Mapping[str, int]
    """node id -> position in file order (components first), for deterministic tie-breaks."""
    rank: Mapping[str, int] = field(default_factory=dict)
    """node id -> position in dependency order (by SCC, leaves first; then file order)."""
    warnings: tuple[str, ...] = ()
    alert_rules: tuple[AlertRule, ...] = ()
    """Severity overrides and heartbeat selectors, in file order (first match wins)."""
    _closures: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)
    _index: dict[str, object] = field(default_factory=dict, compare=False, repr=False)
    """Derived indexes built on first use (the evaluator's graph), kept with the topology."""

    @property
    def components(self) -> Iterable[Node]:
        return (n for n in self.nodes.values() if n.role == "component")

    @property
    def business_services(self) -> Iterable[Node]:
        return (n for n in self.nodes.values() if n.role == "business_service")

    @property
    def segment_by_id(self) -> Mapping[str, Segment]:
        """Segment id -> segment (built on first use)."""
        index = self._index.get("segment_by_id")
        if index is None:
            index = self._index["segment_by_id"] = {s.id: s for s in self.segments}
        return index  # type: ignore[return-value]

    @property
    def customers_total(self) -> int:
        return sum(s.customers for s in self.segments)

    def closure(self, node_id: str) -> frozenset[str]:
        """Every node `node_id` depends on, transitively, including itself."""
        cached = self._closures.get(node_id)
        if cached is not None:
            return cached
        seen = {node_id}
        stack = [node_id]
        while stack:
            for entry in self.nodes[stack.pop()].entries:
                for member in entry.members:
                    if member not in seen:
                        seen.add(member)
                        stack.append(member)
        result = frozenset(seen)
        self._closures[node_id] = result
        return result

    def upstream(self, node_ids: Iterable[str]) -> set[str]:
        """Every node that depends on any of `node_ids`, transitively, including them."""
        seen = set(node_ids)
        stack = list(seen)
        while stack:
            for dep in self.dependents.get(stack.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return seen
