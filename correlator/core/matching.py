"""Which component an alert is about (DESIGN §3, "Each alert is about exactly one component").

Explicit `match` selectors come first: every (label, glob) pair of a selector must match, the
selector with the most pairs wins and ties go to the first in file order. Otherwise the default
labels are tried in order, and the first value equal to a component id or alias wins; pod names
lose their Kubernetes suffix and host-like values their scheme, port, path and domain.

A `Matcher` is built once per topology: selectors are indexed by one literal pair (or by the
literal prefix of a glob) so an alert only tests the few selectors that could match it, and
results are cached per label set.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from correlator.core.topology import Topology

DEFAULT_LABELS = (
    "component",
    "service",
    "app",
    "deployment",
    "pod",
    "job",
    "container",
    "host",
    "entity",
    "instance",
    "node",
)
"""The labels tried, in this order, when no explicit selector matches."""
HOST_LABELS = frozenset({"host", "instance", "node"})
"""Labels whose values are host names (or URLs / host:port), so they also match by host part
and first DNS label."""
UNMAPPED = "unmapped"

_GLOB_CHARS = re.compile(r"[*?\[]")
_POD_ONE_SUFFIX = re.compile(r"^(.+)-[a-z0-9]{5}$")  # DaemonSet, Job, bare ReplicaSet pods
_POD_HASH_SUFFIX = re.compile(r"^(.+)-[a-z0-9]{1,10}-[a-z0-9]{5}$")  # Deployment pods
_POD_ORDINAL = re.compile(r"^(.+)-\d+$")  # StatefulSet pods
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The component an alert maps to (None when unmapped), the (label, value) pairs looked at,
    and the rule that decided: `match {label=glob, …}`, `label <name>` or `unmapped`."""

    component: str | None
    tried: tuple[tuple[str, str], ...]
    rule: str


@dataclass(frozen=True, slots=True)
class Selector:
    """A compiled label selector: every (label, glob) pair must match (a missing label never
    does). `component` is what it maps to, empty for alert rules."""

    component: str
    pairs: tuple[tuple[str, str], ...]
    tests: tuple[tuple[str, str | None, Callable[[str], object] | None], ...]
    """(label, literal value or None, compiled glob test or None) for each pair."""
    rule: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        for label, literal, glob in self.tests:
            value = labels.get(label)
            if value is None:
                return False
            if literal is not None:
                if value != literal:
                    return False
            elif glob is not None and not glob(value):
                return False
        return True


class Matcher:
    """Maps label sets to components of one topology. Pure; cache bounded by `cache_size`
    (0 disables it)."""

    def __init__(self, topology: Topology, *, cache_size: int = 65_536) -> None:
        self.topology = topology
        self._names: dict[str, str] = {}
        ranked: list[tuple[int, int, int, str, tuple[tuple[str, str], ...]]] = []
        for node in topology.components:
            self._names[node.id] = node.id
            for alias in node.aliases:
                self._names.setdefault(alias, node.id)
            for index, selector in enumerate(node.match):
                ranked.append((-len(selector), topology.order[node.id], index, node.id, selector))
        ranked.sort(key=lambda r: r[:3])
        self._selectors: list[Selector] = []
        self._exact: dict[str, dict[str, list[int]]] = {}
        self._prefix: dict[str, dict[str, list[int]]] = {}
        self._prefix_lengths: dict[str, tuple[int, ...]] = {}
        # Anchor each selector on its rarest literal pair: `{namespace: shop, app: cart}` is
        # filed under app=cart, not under a namespace every alert carries.
        shared: dict[tuple[str, str], int] = {}
        for *_, pairs in ranked:
            for pair in pairs:
                shared[pair] = shared.get(pair, 0) + 1
        for sid, (_, _, _, component, pairs) in enumerate(ranked):
            self._selectors.append(compile_selector(pairs, component))
            self._index(sid, sorted(pairs, key=lambda pair: shared[pair]))
        for label, table in self._prefix.items():
            self._prefix_lengths[label] = tuple(sorted({len(p) for p in table}))
        self._cache: dict[tuple[tuple[str, str], ...], MatchResult] = {}
        self._cache_size = cache_size

    def match(self, labels: Mapping[str, str]) -> MatchResult:
        """The component `labels` are about, per DESIGN §3."""
        if self._cache_size <= 0:
            return self._match(labels)
        key = tuple(labels.items())
        result = self._cache.get(key)
        if result is None:
            result = self._match(labels)
            if len(self._cache) >= self._cache_size:
                # Cheaper than LRU bookkeeping on every hit; a full cache is a rare event.
                self._cache.clear()
            self._cache[key] = result
        return result

    def _index(self, sid: int, pairs: list[tuple[str, str]]) -> None:
        """File selector `sid` under one pair: its first literal one if any, else the glob with
        the longest literal prefix."""
        for label, pattern in pairs:
            if not _GLOB_CHARS.search(pattern):
                self._exact.setdefault(label, {}).setdefault(pattern, []).append(sid)
                return
        label, prefix = max(
            ((label, _GLOB_CHARS.split(pattern, maxsplit=1)[0]) for label, pattern in pairs),
            key=lambda lp: len(lp[1]),
        )
        self._prefix.setdefault(label, {}).setdefault(prefix, []).append(sid)

    def _match(self, labels: Mapping[str, str]) -> MatchResult:
        if self._selectors:
            found = self._explicit(labels)
            if found is not None:
                return found
        return self._default(labels)

    def _explicit(self, labels: Mapping[str, str]) -> MatchResult | None:
        candidates: list[int] = []
        exact = self._exact
        prefixes = self._prefix
        for label, value in labels.items():
            values = exact.get(label)
            if values is not None:
                ids = values.get(value)
                if ids is not None:
                    candidates += ids
            table = prefixes.get(label)
            if table is not None:
                for length in self._prefix_lengths[label]:
                    if length > len(value):
                        break
                    ids = table.get(value[:length])
                    if ids is not None:
                        candidates += ids
        if not candidates:
            return None
        # Selector ids are in precedence order, so the smallest matching one wins.
        for sid in sorted(set(candidates)):
            selector = self._selectors[sid]
            if selector.matches(labels):
                tried = tuple((label, labels[label]) for label, _ in selector.pairs)
                return MatchResult(selector.component, tried, selector.rule)
        return None

    def _default(self, labels: Mapping[str, str]) -> MatchResult:
        names = self._names
        tried: list[tuple[str, str]] = []
        for label in DEFAULT_LABELS:
            value = labels.get(label)
            if not value:
                continue
            for candidate in variants(label, value):
                tried.append((label, candidate))
                component = names.get(candidate)
                if component is not None:
                    return MatchResult(component, tuple(tried), f"label {label}")
        return MatchResult(None, tuple(tried), UNMAPPED)


def variants(label: str, value: str) -> tuple[str, ...]:
    """The names a default label's value is tried as, in order, the raw value first."""
    if label == "pod":
        out = [value]
        for pattern in (_POD_ONE_SUFFIX, _POD_HASH_SUFFIX, _POD_ORDINAL):
            m = pattern.match(value)
            if m is not None:
                out.append(m.group(1))
        return _unique(out)
    if label in HOST_LABELS:
        host = host_part(value)
        return _unique([value, host, first_dns_label(host)])
    if label == "entity":
        # Opsgenie's entity is free text, often a host name: tried whole, then by first label.
        return _unique([value, first_dns_label(value)])
    return (value,)


def host_part(value: str) -> str:
    """The host of a URL, `host:port` or `[v6]:port` (scheme, user, path and port removed)."""
    host = _SCHEME.sub("", value, count=1)
    host = host.split("/", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host or value


def first_dns_label(host: str) -> str:
    """`db-2.prod.internal` → `db-2`; IP addresses are left whole."""
    if "." not in host or _IPV4.match(host):
        return host
    return host.split(".", 1)[0] or host


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


class _LazyGlob:
    """A glob's regex test, compiled on its first use: a 50,000-component topology has
    thousands of glob selectors and compiling them all up front cost seconds at load, most of
    them never tested."""

    __slots__ = ("_match", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._match: Callable[[str], object] | None = None

    def __call__(self, value: str) -> object:
        match = self._match
        if match is None:
            match = self._match = re.compile(fnmatch.translate(self.pattern)).match
        return match(value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _LazyGlob) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)


def compile_selector(pairs: tuple[tuple[str, str], ...], component: str = "") -> Selector:
    """`pairs` compiled once: literal values compared, globs (shell-style) as regexes."""
    tests: list[tuple[str, str | None, Callable[[str], object] | None]] = []
    for label, pattern in pairs:
        if _GLOB_CHARS.search(pattern):
            # Exactly fnmatch.fnmatchcase's semantics, compiled once rather than per call.
            tests.append((label, None, _LazyGlob(pattern)))
        else:
            tests.append((label, pattern, None))
    rule = "match {" + ", ".join(f"{label}={pattern}" for label, pattern in pairs) + "}"
    return Selector(component, pairs, tuple(tests), rule)
