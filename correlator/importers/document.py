"""An import plus an overlay → one validated, deterministic topology document (format v1).

The overlay is a topology file in the v1 format holding what no discovery source knows:
business services, segments, tiers, divisions, aliases, alert rules, and corrections. It wins
on conflicts, node by node and key by key:

- a node (component or business service) the overlay names is merged into the imported one:
  the overlay's keys replace the imported keys (so its `depends_on` can turn a discovered
  dependency into `soft` or `any`), except `aliases` and `match`, which are added to, and
  `labels`, merged with the overlay's values winning;
- a node only the overlay names is added; divisions, segments and alert rules are taken from
  the overlay as they are.

Components and business services are written sorted by id, so the same inputs give the same
bytes whatever the order of the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from correlator.core.topology import Topology
from correlator.core.topology_parse import API_VERSION, parse_topology
from correlator.errors import UsageError
from correlator.importers.graph import Imported

OVERLAY_KEYS = {
    "apiVersion",
    "name",
    "description",
    "divisions",
    "segments",
    "business_services",
    "components",
    "alert_rules",
}
_ADDITIVE = ("aliases", "match")
_KEY_ORDER = (
    "id",
    "name",
    "kind",
    "tier",
    "description",
    "owner",
    "runbook",
    "labels",
    "aliases",
    "depends_on",
    "match",
)


def check_overlay(data: object, source: str) -> Mapping[str, Any]:
    """The overlay's top level, or a one-line `UsageError` naming what is wrong with it."""
    if not isinstance(data, Mapping):
        raise UsageError(f"{source}: an overlay is a topology mapping (apiVersion, name, …)")
    unknown = sorted(str(k) for k in data if k not in OVERLAY_KEYS)
    if unknown:
        raise UsageError(f"{source}: unknown key {unknown[0]!r} in the overlay")
    if data.get("apiVersion") not in (None, API_VERSION):
        raise UsageError(f"{source}: apiVersion must be {API_VERSION!r}")
    for key in ("divisions", "segments", "business_services", "components", "alert_rules"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(i, Mapping) for i in value):
            raise UsageError(f"{source}: {key} must be a list of mappings")
        if key in ("business_services", "components", "segments", "divisions"):
            for index, item in enumerate(value):
                if not isinstance(item.get("id"), str) or not item["id"]:
                    raise UsageError(f"{source}: {key}[{index}]: id is required")
        if key == "alert_rules":
            for index, rule in enumerate(value):
                if not isinstance(rule.get("match"), Mapping) or not rule["match"]:
                    raise UsageError(f"{source}: alert_rules[{index}]: match is required")
    return data


def build(
    imported: Imported, name: str, overlay: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The topology document and one line per change the overlay made to imported nodes."""
    overlay = overlay or {}
    components = {k: _sorted_dependencies(v) for k, v in imported.components.items()}
    services = {k: _sorted_dependencies(v) for k, v in imported.business_services.items()}
    notes: list[str] = []
    added: dict[str, int] = {"components": 0, "business_services": 0}
    changed: dict[str, int] = {"components": 0, "business_services": 0}
    for section, nodes in (("components", components), ("business_services", services)):
        for item in overlay.get(section) or []:
            node_id = item["id"]
            other = services if nodes is components else components
            if node_id in other:
                # The overlay declares as a component what was imported as a business service
                # (or the reverse): the overlay wins, as on any other conflict.
                del other[node_id]
                notes.append(f"overlay: {node_id!r} is now one of the {section}")
            if node_id in nodes:
                nodes[node_id] = _merge(nodes[node_id], item)
                changed[section] += 1
            else:
                nodes[node_id] = dict(item)
                added[section] += 1
    doc: dict[str, Any] = {"apiVersion": API_VERSION, "name": name}
    if overlay.get("description"):
        doc["description"] = overlay["description"]
    if overlay.get("divisions"):
        doc["divisions"] = [dict(d) for d in overlay["divisions"]]
    doc["segments"] = [dict(s) for s in overlay.get("segments") or []]
    doc["business_services"] = [_ordered(services[k]) for k in sorted(services)]
    doc["components"] = [_ordered(components[k]) for k in sorted(components)]
    if overlay.get("alert_rules"):
        doc["alert_rules"] = [dict(r) for r in overlay["alert_rules"]]
    if overlay:
        counts = [
            f"{len(overlay.get('segments') or [])} segments",
            f"{added['business_services']} business services added",
            f"{changed['business_services']} changed",
            f"{added['components']} components added",
            f"{changed['components']} changed",
            f"{len(overlay.get('divisions') or [])} divisions",
            f"{len(overlay.get('alert_rules') or [])} alert rules",
        ]
        notes.append(f"overlay: {', '.join(counts)}")
    return doc, notes


def _sorted_dependencies(item: Mapping[str, Any]) -> dict[str, Any]:
    """Discovered dependencies in a fixed order, whatever the order of the input files."""
    out = dict(item)
    if out.get("depends_on"):
        out["depends_on"] = sorted(
            out["depends_on"], key=lambda e: (not isinstance(e, str), str(e))
        )
    return out


def _merge(imported: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(imported)
    for key, value in overlay.items():
        if key in _ADDITIVE and isinstance(value, list):
            current = list(merged.get(key) or [])
            current.extend(v for v in value if v not in current)
            merged[key] = current
        elif key == "labels" and isinstance(value, Mapping):
            merged[key] = {**(merged.get("labels") or {}), **value}
        else:
            merged[key] = value
    return merged


def _ordered(item: Mapping[str, Any]) -> dict[str, Any]:
    rank = {k: i for i, k in enumerate(_KEY_ORDER)}
    out = {k: item[k] for k in sorted(item, key=lambda k: (rank.get(k, len(rank)), k))}
    if isinstance(out.get("match"), list):
        out["match"] = [_Flow(s) if isinstance(s, Mapping) else s for s in out["match"]]
    return out


class _Flow(dict[str, Any]):
    """A mapping written inline: `{namespace: shop, pod: cart-*}`."""


def validate(doc: Mapping[str, Any], source: str) -> Topology:
    """Validate with the topology parser, so a written file always loads."""
    return parse_topology(doc, source)


class _Dumper(yaml.SafeDumper):
    """Block style, and no anchors/aliases for repeated lists."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _flow_mapping(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


_Dumper.add_representer(_Flow, _flow_mapping)


def render(doc: Mapping[str, Any], header: str) -> str:
    """YAML text: a comment header, then the document with keys in the v1 order."""
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    body = yaml.dump(
        dict(doc),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    return comment + body
