"""Planned work: maintenance windows and which problems they cover (DESIGN §6, "Planned work").

A window names components — by id (or alias), or by label selectors matched against what the
topology says of a component — and a span of event time `[starts_at, ends_at)`. While a window
covers a problem's component, the problem is *planned*; an incident whose root causes are all
planned is a planned incident. Windows arrive on `incident.actions` in order; a record with
the id of a known window replaces it (that is how `correlator maintenance end` ends one early:
the same window with `ends_at` now).

Pure: no I/O, no clock (time is passed in).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from correlator.core.timefmt import Millis
from correlator.core.topology import Node, Topology

Selector = tuple[tuple[str, str], ...]
"""(label, glob) pairs; every pair must match."""


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """One planned-work window, as declared (`correlator maintenance add`)."""

    id: str
    components: tuple[str, ...]
    match: tuple[Selector, ...]
    starts_at: Millis
    ends_at: Millis
    reason: str
    by: str

    def active(self, t: Millis) -> bool:
        return self.starts_at <= t < self.ends_at

    def names(self, node: Node) -> bool:
        """Does this window name `node` (whatever the time)?"""
        if node.id in self.components or any(a in self.components for a in node.aliases):
            return True
        if not self.match:
            return False
        facts = component_facts(node)
        return any(_selector_matches(selector, facts) for selector in self.match)


def component_facts(node: Node) -> dict[str, set[str]]:
    """What a window's `match` selector is tested against: the component's id (`component`),
    `kind`, `owner`, its topology `labels`, and the literal label values of its own `match`
    selectors (so `--match namespace=shop` covers the components whose alerts carry it)."""
    facts: dict[str, set[str]] = {"component": {node.id, *node.aliases}}
    if node.kind:
        facts["kind"] = {node.kind}
    if node.owner:
        facts["owner"] = {node.owner}
    for key, value in node.labels:
        facts.setdefault(key, set()).add(value)
    for selector in node.match:
        for key, value in selector:
            facts.setdefault(key, set()).add(value)
    return facts


def _selector_matches(selector: Selector, facts: Mapping[str, set[str]]) -> bool:
    return bool(selector) and all(
        any(fnmatch.fnmatchcase(v, glob) for v in facts.get(key, ())) for key, glob in selector
    )


class MaintenanceBook:
    """Every window known, by id (the latest record of an id wins), and coverage queries."""

    __slots__ = ("_names", "windows")

    def __init__(self, windows: Iterable[MaintenanceWindow] = ()) -> None:
        self.windows: dict[str, MaintenanceWindow] = {}
        self._names: dict[tuple[str, str], bool] = {}
        for window in windows:
            self.put(window)

    def put(self, window: MaintenanceWindow) -> None:
        self.windows[window.id] = window
        self._names.clear()

    def active(self, t: Millis) -> tuple[MaintenanceWindow, ...]:
        """Windows in force at `t`, by start then id."""
        return tuple(
            sorted(
                (w for w in self.windows.values() if w.active(t)),
                key=lambda w: (w.starts_at, w.id),
            )
        )

    def covering(self, topology: Topology, component: str, t: Millis) -> tuple[str, ...]:
        """Ids of the windows that cover `component` at `t`."""
        node = topology.nodes.get(component)
        if node is None:
            return ()
        return tuple(w.id for w in self.active(t) if self._window_names(w, node))

    def covers(self, topology: Topology, component: str, t: Millis) -> bool:
        return bool(self.covering(topology, component, t))

    def planned(self, topology: Topology, problems: Iterable[str], t: Millis) -> frozenset[str]:
        """The problems that are planned at `t`."""
        active = self.active(t)
        if not active:
            return frozenset()
        out = set()
        for p in problems:
            node = topology.nodes.get(p)
            if node is not None and any(self._window_names(w, node) for w in active):
                out.add(p)
        return frozenset(out)

    def state_at(self, t: Millis) -> tuple[MaintenanceWindow, ...]:
        """What coverage at `t` depends on: a change of it calls for a new step."""
        return self.active(t)

    def next_change(self, after: Millis) -> Millis | None:
        """The first start or end of a window strictly after `after`."""
        times = [b for w in self.windows.values() for b in (w.starts_at, w.ends_at) if b > after]
        return min(times) if times else None

    def _window_names(self, window: MaintenanceWindow, node: Node) -> bool:
        key = (window.id, node.id)
        known = self._names.get(key)
        if known is None:
            known = self._names[key] = window.names(node)
        return known
