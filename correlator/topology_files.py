"""Reading topology files (YAML or JSON) from disk into a validated `Topology`."""

from __future__ import annotations

from pathlib import Path

import yaml

from correlator.core.topology import Topology
from correlator.core.topology_parse import parse_topology
from correlator.errors import TopologyError


def parse_topology_text(text: str | bytes, source: str) -> Topology:
    """Validate topology text (YAML, of which JSON is a subset)."""
    try:
        data = yaml.safe_load(text)
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
