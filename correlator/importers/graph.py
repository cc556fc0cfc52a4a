"""What an importer produces: components, business services and what it could not resolve.

Importers are pure functions from parsed documents to an `Imported` value; reading files
(`sources.py`) and writing the topology (`document.py`) happen at the edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed document (a YAML document, a JSON value) and where it came from."""

    source: str
    data: object


@dataclass(slots=True)
class Imported:
    """Topology nodes in the v1 format (plain dicts, keyed by id), plus one line per thing the
    importer skipped or could not resolve."""

    origin: str
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    business_services: dict[str, dict[str, Any]] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)
    read: str = ""
    """What was read, for the summary line: `24 entities`, `41 objects`, `7 edges`."""

    def dependency_count(self) -> int:
        return sum(len(node.get("depends_on", ())) for node in self.components.values())

    def summary(self) -> str:
        """The one line saying what was imported."""
        parts = [f"{len(self.components)} components"]
        if self.business_services:
            parts.append(f"{len(self.business_services)} business services")
        parts.append(f"{self.dependency_count()} dependencies")
        return f"imported {', '.join(parts)} from {self.read or self.origin}"


def node(
    node_id: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    owner: str | None = None,
    runbook: str | None = None,
    description: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A component or business service dict with its keys in the order the v1 format shows
    them; empty values are left out."""
    out: dict[str, Any] = {"id": node_id}
    if name and name != node_id:
        out["name"] = name
    if kind:
        out["kind"] = kind
    if description:
        out["description"] = description
    if owner:
        out["owner"] = owner
    if runbook:
        out["runbook"] = runbook
    if labels:
        out["labels"] = {k: str(labels[k]) for k in sorted(labels)}
    return out


def add_dependency(item: dict[str, Any], entry: str | dict[str, Any]) -> None:
    """Append `entry` to a node's `depends_on` unless an equal entry is there already."""
    deps: list[str | dict[str, Any]] = item.setdefault("depends_on", [])
    if entry not in deps:
        deps.append(entry)
