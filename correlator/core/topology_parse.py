"""Validate a parsed topology document (DESIGN §3) into an immutable `Topology`.

Takes plain data (what YAML or JSON decoding produced) and either returns a complete
`Topology` or raises `TopologyError` naming the source, the node and the problem: a rejected
document never half-loads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from correlator.core.alert_rules import AlertRule
from correlator.core.alerts import AlertSeverity
from correlator.core.topology import Division, Entry, Node, Segment, Topology
from correlator.errors import TopologyError

API_VERSION = "correlator/v1"
SHARE_TOLERANCE = Fraction(1, 1000)

_TOP_KEYS = {
    "apiVersion",
    "name",
    "description",
    "divisions",
    "segments",
    "business_services",
    "components",
    "alert_rules",
}
_COMMON_KEYS = {"id", "name", "description", "owner", "runbook", "labels"}
_DIVISION_KEYS = {"id", "name", "description", "shares"}
_SEGMENT_KEYS = _COMMON_KEYS | {"customers", "uses"}
_SERVICE_KEYS = _COMMON_KEYS | {"tier", "depends_on"}
_COMPONENT_KEYS = _COMMON_KEYS | {"kind", "aliases", "depends_on", "match"}
_RULE_KEYS = {"match", "severity", "heartbeat", "description"}
_RULE_SEVERITIES: tuple[AlertSeverity, ...] = ("critical", "warning", "info")


class _Ctx:
    """Error reporting context: the source name."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> TopologyError:
        prefix = f"{self.source}: {where}: " if where else f"{self.source}: "
        return TopologyError(prefix + problem)


def parse_topology(data: object, source: str = "<topology>") -> Topology:
    """Validate `data` and build the indexed topology, or raise `TopologyError`."""
    ctx = _Ctx(source)
    if not isinstance(data, Mapping):
        raise ctx.fail("", "a topology must be a mapping with apiVersion, name, segments, …")
    _check_keys(ctx, "top level", data, _TOP_KEYS)
    if data.get("apiVersion") != API_VERSION:
        raise ctx.fail("apiVersion", f"must be {API_VERSION!r}, got {data.get('apiVersion')!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ctx.fail("name", "required: a non-empty string")

    divisions = _parse_divisions(ctx, _list(ctx, data, "divisions"))
    raw_services = _list(ctx, data, "business_services")
    raw_components = _list(ctx, data, "components")
    raw_segments = _list(ctx, data, "segments")

    node_ids: dict[str, str] = {}
    sections = (
        ("components", "component", raw_components),
        ("business_services", "business service", raw_services),
    )
    for section, singular, items in sections:
        for index, item in enumerate(items):
            where = f"{section}[{index}]"
            if not isinstance(item, Mapping):
                raise ctx.fail(where, "must be a mapping")
            node_id = _ident(ctx, where, item.get("id"))
            if node_id in node_ids:
                raise ctx.fail(
                    f"{singular} {node_id!r}", f"duplicate id (also a {node_ids[node_id]})"
                )
            node_ids[node_id] = singular

    nodes: dict[str, Node] = {}
    for item in raw_components:
        node = _parse_component(ctx, item, node_ids, divisions)
        nodes[node.id] = node
    for item in raw_services:
        node = _parse_service(ctx, item, node_ids, divisions)
        nodes[node.id] = node
    _check_aliases(ctx, nodes)

    segments = _parse_segments(ctx, raw_segments, nodes)
    alert_rules = _parse_alert_rules(ctx, _list(ctx, data, "alert_rules"))

    dependents: dict[str, set[str]] = {node_id: set() for node_id in nodes}
    for node in nodes.values():
        for entry in node.entries:
            for member in entry.members:
                dependents[member].add(node.id)
    frozen_dependents = {k: tuple(sorted(v)) for k, v in dependents.items()}
    order = {node_id: i for i, node_id in enumerate(nodes)}
    scc, cycles = _strongly_connected(nodes, order)
    ranked = sorted(nodes, key=lambda n: (scc[n], order[n]))
    rank = {node_id: i for i, node_id in enumerate(ranked)}
    warnings = tuple(
        f"{source}: cycle: {' -> '.join(cycle)} (legal; evaluated as a least fixed point)"
        for cycle in cycles
    )
    version = hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()[:16]
    return Topology(
        name=name,
        version=version,
        nodes=nodes,
        segments=segments,
        divisions=divisions,
        dependents=frozen_dependents,
        scc=scc,
        cycles=cycles,
        order=order,
        rank=rank,
        warnings=warnings,
        alert_rules=alert_rules,
    )


def _list(ctx: _Ctx, data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise ctx.fail(key, "must be a list")
    return value


def _check_keys(ctx: _Ctx, where: str, item: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(str(k) for k in item if k not in allowed)
    if unknown:
        raise ctx.fail(where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _ident(ctx: _Ctx, where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(where, "id is required and must be a non-empty string")
    return value


def _opt_str(ctx: _Ctx, where: str, item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ctx.fail(where, f"{key} must be a string")
    return value


def _labels(ctx: _Ctx, where: str, item: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    value = item.get("labels") or {}
    if not isinstance(value, Mapping):
        raise ctx.fail(where, "labels must be a mapping")
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))


def _share(ctx: _Ctx, where: str, value: object) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ctx.fail(where, f"share {value!r} is not a number")
    try:
        share = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise ctx.fail(where, f"share {value!r} is not a number") from None
    if share < 0:
        raise ctx.fail(where, f"share {value} is negative")
    return share


def _normalise(ctx: _Ctx, where: str, shares: list[Fraction]) -> tuple[Fraction, ...]:
    total = sum(shares, Fraction(0))
    if abs(total - 1) > SHARE_TOLERANCE:
        raise ctx.fail(where, f"shares sum to {float(total):g}, not 1")
    return tuple(s / total for s in shares)


def _parse_divisions(ctx: _Ctx, items: list[Any]) -> dict[str, Division]:
    divisions: dict[str, Division] = {}
    for index, item in enumerate(items):
        where = f"divisions[{index}]"
        if not isinstance(item, Mapping):
            raise ctx.fail(where, "must be a mapping")
        division_id = _ident(ctx, where, item.get("id"))
        where = f"division {division_id!r}"
        _check_keys(ctx, where, item, _DIVISION_KEYS)
        if division_id in divisions:
            raise ctx.fail(where, "duplicate id")
        if division_id.startswith("split:"):
            raise ctx.fail(where, "ids starting with 'split:' are reserved for anonymous splits")
        raw = item.get("shares")
        if isinstance(raw, list) and raw:
            parts = tuple(str(p) for p in raw)
            shares = tuple(Fraction(1, len(parts)) for _ in parts)
        elif isinstance(raw, Mapping) and raw:
            parts = tuple(str(p) for p in raw)
            shares = _normalise(ctx, where, [_share(ctx, where, v) for v in raw.values()])
        else:
            raise ctx.fail(where, "shares must be a non-empty mapping of part: share, or a list")
        if len(set(parts)) != len(parts):
            raise ctx.fail(where, "duplicate part")
        divisions[division_id] = Division(division_id, parts, shares)
    return divisions


def _members(ctx: _Ctx, where: str, value: object, node_ids: Mapping[str, str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ctx.fail(where, "expects a non-empty list of ids")
    members: list[str] = []
    for member in value:
        if not isinstance(member, str):
            raise ctx.fail(where, f"{member!r} is not an id")
        if member not in node_ids:
            raise ctx.fail(where, f"unknown reference {member!r}")
        if member in members:
            raise ctx.fail(where, f"{member!r} appears twice")
        members.append(member)
    return tuple(members)


def _parse_entries(
    ctx: _Ctx,
    where: str,
    raw: object,
    node_ids: Mapping[str, str],
    divisions: dict[str, Division],
) -> tuple[Entry, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ctx.fail(where, "depends_on must be a list")
    entries: list[Entry] = []
    for item in raw:
        if isinstance(item, str):
            entries.extend(Entry("require", (m,)) for m in _members(ctx, where, item, node_ids))
            continue
        if not isinstance(item, Mapping):
            raise ctx.fail(where, f"depends_on entry {item!r} is not an id or a mapping")
        keys = set(item)
        if keys == {"all"}:
            members = _members(ctx, f"{where}: all", item["all"], node_ids)
            entries.extend(Entry("require", (m,)) for m in members)
        elif keys == {"any"}:
            entries.append(Entry("any", _members(ctx, f"{where}: any", item["any"], node_ids)))
        elif keys == {"soft"}:
            entries.append(Entry("soft", _members(ctx, f"{where}: soft", item["soft"], node_ids)))
        elif keys == {"quorum", "of"}:
            members = _members(ctx, f"{where}: quorum", item["of"], node_ids)
            k = item["quorum"]
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise ctx.fail(where, f"quorum must be a positive integer, got {k!r}")
            if k > len(members):
                raise ctx.fail(where, f"quorum {k} is larger than its group of {len(members)}")
            entries.append(Entry("quorum", members, quorum=k))
        elif keys == {"split"}:
            entries.append(_parse_split(ctx, f"{where}: split", item["split"], node_ids, divisions))
        else:
            raise ctx.fail(
                where,
                f"unknown dependency form with keys {sorted(map(str, keys))} "
                "(expected an id, all, any, quorum+of, split or soft)",
            )
    return tuple(entries)


def _parse_split(
    ctx: _Ctx,
    where: str,
    raw: object,
    node_ids: Mapping[str, str],
    divisions: dict[str, Division],
) -> Entry:
    if isinstance(raw, Mapping) and "by" in raw:
        _check_keys(ctx, where, raw, {"by", "members"})
        division_id = raw["by"]
        division = divisions.get(division_id) if isinstance(division_id, str) else None
        if division is None:
            raise ctx.fail(where, f"by names unknown division {division_id!r}")
        mapping = raw.get("members")
        if not isinstance(mapping, Mapping) or not mapping:
            raise ctx.fail(where, "members must map each part of the division to a component")
        for part in mapping:
            if part not in division.parts:
                raise ctx.fail(where, f"{part!r} is not a part of division {division.id!r}")
        missing = [p for p in division.parts if p not in mapping]
        if missing:
            raise ctx.fail(where, f"missing part {missing[0]!r} of division {division.id!r}")
        for part in division.parts:
            if not isinstance(mapping[part], str):
                raise ctx.fail(where, f"part {part!r} must name one component, not a list")
        members = tuple(_members(ctx, where, mapping[p], node_ids)[0] for p in division.parts)
        return Entry("split", members, division=division.id, parts=division.parts)
    if isinstance(raw, list) and raw:
        members = _members(ctx, where, raw, node_ids)
        shares = tuple(Fraction(1, len(members)) for _ in members)
    elif isinstance(raw, Mapping) and raw:
        members = _members(ctx, where, list(raw), node_ids)
        shares = _normalise(ctx, where, [_share(ctx, where, v) for v in raw.values()])
    else:
        raise ctx.fail(where, "expects a mapping of member: share, a list, or {by, members}")
    if len(set(members)) != len(members):
        raise ctx.fail(where, "a member appears twice")
    ordered = sorted(zip(members, shares, strict=True))
    division_id = "split:" + ",".join(m for m, _ in ordered)
    division = Division(
        division_id, tuple(m for m, _ in ordered), tuple(s for _, s in ordered), anonymous=True
    )
    known = divisions.get(division_id)
    if known is not None and known.shares != division.shares:
        raise ctx.fail(
            where, "anonymous splits over the same members must give them the same shares"
        )
    divisions[division_id] = division
    return Entry("split", division.parts, division=division_id, parts=division.parts)


def _parse_alert_rules(ctx: _Ctx, items: list[Any]) -> tuple[AlertRule, ...]:
    rules: list[AlertRule] = []
    for index, item in enumerate(items):
        where = f"alert_rules[{index}]"
        if not isinstance(item, Mapping):
            raise ctx.fail(where, "must be a mapping with match and severity or heartbeat")
        _check_keys(ctx, where, item, _RULE_KEYS)
        match = item.get("match")
        if not isinstance(match, Mapping) or not match:
            raise ctx.fail(where, "match is required: a non-empty mapping label: value (globs)")
        pairs: list[tuple[str, str]] = []
        for label, value in match.items():
            if not isinstance(label, str) or not label:
                raise ctx.fail(where, f"match label {label!r} must be a non-empty string")
            if value is None or isinstance(value, Mapping | list):
                raise ctx.fail(where, f"match {label}: the value must be a string (a glob)")
            pairs.append((label, _scalar_text(value)))
        severity = item.get("severity")
        if severity is not None and severity not in _RULE_SEVERITIES:
            raise ctx.fail(
                where, f"severity must be one of critical, warning, info, got {severity!r}"
            )
        heartbeat = item.get("heartbeat", False)
        if not isinstance(heartbeat, bool):
            raise ctx.fail(where, f"heartbeat must be true or false, got {heartbeat!r}")
        if severity is None and not heartbeat:
            raise ctx.fail(where, "a rule needs severity (an override) or heartbeat: true")
        if severity is not None and heartbeat:
            raise ctx.fail(
                where,
                "severity and heartbeat: true exclude each other (a heartbeat never "
                "changes health)",
            )
        _opt_str(ctx, where, item, "description")
        rules.append(AlertRule(tuple(pairs), severity, heartbeat))
    return tuple(rules)


def _scalar_text(value: object) -> str:
    """A YAML scalar as a label value: booleans as JSON spells them (`true`), numbers as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse_component(
    ctx: _Ctx, item: Mapping[str, Any], node_ids: Mapping[str, str], divisions: dict[str, Division]
) -> Node:
    node_id = item["id"]
    where = f"component {node_id!r}"
    _check_keys(ctx, where, item, _COMPONENT_KEYS)
    aliases_raw = item.get("aliases") or []
    if not isinstance(aliases_raw, list) or not all(isinstance(a, str) for a in aliases_raw):
        raise ctx.fail(where, "aliases must be a list of strings")
    match_raw = item.get("match") or []
    if not isinstance(match_raw, list):
        raise ctx.fail(where, "match must be a list of label selectors")
    selectors: list[tuple[tuple[str, str], ...]] = []
    for selector in match_raw:
        if not isinstance(selector, Mapping) or not selector:
            raise ctx.fail(where, "each match selector must be a non-empty mapping label: value")
        selectors.append(tuple((str(k), str(v)) for k, v in selector.items()))
    kind = item.get("kind", "")
    return Node(
        id=node_id,
        role="component",
        name=_opt_str(ctx, where, item, "name") or node_id,
        entries=_parse_entries(ctx, where, item.get("depends_on"), node_ids, divisions),
        kind=str(kind) if kind is not None else "",
        owner=_opt_str(ctx, where, item, "owner"),
        runbook=_opt_str(ctx, where, item, "runbook"),
        labels=_labels(ctx, where, item),
        aliases=tuple(aliases_raw),
        match=tuple(selectors),
    )


def _parse_service(
    ctx: _Ctx, item: Mapping[str, Any], node_ids: Mapping[str, str], divisions: dict[str, Division]
) -> Node:
    node_id = item["id"]
    where = f"business service {node_id!r}"
    _check_keys(ctx, where, item, _SERVICE_KEYS)
    tier = item.get("tier", 3)
    if isinstance(tier, bool) or not isinstance(tier, int) or not 1 <= tier <= 4:
        raise ctx.fail(where, f"tier must be 1, 2, 3 or 4, got {tier!r}")
    return Node(
        id=node_id,
        role="business_service",
        name=_opt_str(ctx, where, item, "name") or node_id,
        entries=_parse_entries(ctx, where, item.get("depends_on"), node_ids, divisions),
        tier=tier,
        owner=_opt_str(ctx, where, item, "owner"),
        runbook=_opt_str(ctx, where, item, "runbook"),
        labels=_labels(ctx, where, item),
    )


def _check_aliases(ctx: _Ctx, nodes: Mapping[str, Node]) -> None:
    seen: dict[str, str] = {}
    for node in nodes.values():
        for alias in node.aliases:
            if alias in nodes and alias != node.id:
                raise ctx.fail(f"component {node.id!r}", f"alias {alias!r} is another node's id")
            if alias in seen and seen[alias] != node.id:
                raise ctx.fail(
                    f"component {node.id!r}", f"alias {alias!r} is also an alias of {seen[alias]!r}"
                )
            seen[alias] = node.id


def _parse_segments(ctx: _Ctx, items: list[Any], nodes: Mapping[str, Node]) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"segments[{index}]"
        if not isinstance(item, Mapping):
            raise ctx.fail(where, "must be a mapping")
        segment_id = _ident(ctx, where, item.get("id"))
        where = f"segment {segment_id!r}"
        _check_keys(ctx, where, item, _SEGMENT_KEYS)
        if segment_id in seen:
            raise ctx.fail(where, "duplicate id")
        seen.add(segment_id)
        customers = item.get("customers")
        if isinstance(customers, bool) or not isinstance(customers, int):
            raise ctx.fail(where, f"customers must be an integer, got {customers!r}")
        if customers < 0:
            raise ctx.fail(where, f"customers must be >= 0, got {customers}")
        uses = item.get("uses")
        if not isinstance(uses, list) or not uses:
            raise ctx.fail(where, "uses nothing: list at least one business service")
        for service in uses:
            node = nodes.get(service) if isinstance(service, str) else None
            if node is None:
                raise ctx.fail(where, f"uses unknown business service {service!r}")
            if node.role != "business_service":
                raise ctx.fail(where, f"uses {service!r}, which is a component")
        segments.append(
            Segment(
                id=segment_id,
                name=_opt_str(ctx, where, item, "name") or segment_id,
                customers=customers,
                uses=tuple(dict.fromkeys(uses)),
                owner=_opt_str(ctx, where, item, "owner"),
            )
        )
    return tuple(segments)


def _strongly_connected(
    nodes: Mapping[str, Node], order: Mapping[str, int]
) -> tuple[dict[str, int], tuple[tuple[str, ...], ...]]:
    """Tarjan's algorithm, iterative; SCC indexes are in dependency order (leaves first)."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    scc: dict[str, int] = {}
    cycles: list[tuple[str, ...]] = []
    counter = 0
    scc_count = 0

    def successors(node_id: str) -> list[str]:
        return sorted({m for e in nodes[node_id].entries for m in e.members}, key=order.__getitem__)

    for root in nodes:
        if root in index_of:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node_id, child_index = work.pop()
            if child_index == 0:
                index_of[node_id] = low[node_id] = counter
                counter += 1
                stack.append(node_id)
                on_stack.add(node_id)
            succ = successors(node_id)
            if child_index < len(succ):
                work.append((node_id, child_index + 1))
                child = succ[child_index]
                if child not in index_of:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node_id] = min(low[node_id], index_of[child])
                continue
            if low[node_id] == index_of[node_id]:
                members: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node_id:
                        break
                for member in members:
                    scc[member] = scc_count
                scc_count += 1
                self_loop = len(members) == 1 and node_id in succ
                if len(members) > 1 or self_loop:
                    cycles.append(tuple(sorted(members, key=order.__getitem__)))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
    return scc, tuple(cycles)
