"""Reading topology files (YAML or JSON) from disk into a validated `Topology`."""

from __future__ import annotations

from pathlib import Path

import yaml

from correlator.core.topology import Topology
from correlator.core.topology_parse import parse_topology
from correlator.errors import TopologyError

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's C parser when PyYAML was built with it (about 15x faster on big topologies)."""


class _StrictLoader(_Base):  # type: ignore[misc,valid-type]
    """Safe loading that rejects duplicate keys instead of silently keeping the last one."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[object, object]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_topology_text(text: str | bytes, source: str) -> Topology:
    """Validate topology text (YAML, of which JSON is a subset)."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a safe loader subclass: safe
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TopologyError(f"{source}: {where}not valid YAML/JSON: {problem}") from None
    return parse_topology(data, source)


def load_topology(path: str | Path) -> Topology:
    """Read and validate a topology file; every failure is a one-line `TopologyError`."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise TopologyError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return parse_topology_text(text, str(p))
