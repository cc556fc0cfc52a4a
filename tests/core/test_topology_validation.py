"""Validation rejects what the format forbids, with one line naming the file, node and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from correlator.errors import TopologyError
from correlator.topology_files import parse_topology_text

HEAD = "apiVersion: correlator/v1\nname: t\nsegments: [{id: s, customers: 1, uses: [b]}]\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "divisions: [{id: 'split:a,b', shares: {a: 0.5, b: 0.5}}]\n"
            "business_services: [{id: b, depends_on: [{split: [a, b]}]}]\n"
            "components: [{id: a}, {id: b2}]\n",
            "t.yaml: division 'split:a,b': ids starting with 'split:' are reserved for "
            "anonymous splits",
        ),
        (
            "divisions: [{id: cell, shares: [c1, c2]}]\n"
            "business_services: [{id: b, depends_on: [x]}]\n"
            "components: [{id: x, depends_on: [{split: {by: cell, members: {c1: [a, y], c2: y}}}]},"
            " {id: a}, {id: y}]\n",
            "t.yaml: component 'x': split: part 'c1' must name one component, not a list",
        ),
        (
            "business_services: [{id: b, depends_on: [x]}]\n"
            "components: [{id: x, depends_on: [{quorum: 2, of: [e1, e1]}]}, {id: e1}]\n",
            "t.yaml: component 'x': quorum: 'e1' appears twice",
        ),
        (
            "business_services: [{id: b, depends_on: [x]}]\n"
            "components:\n  - id: x\n    depends_on: [a]\n    depends_on: [y]\n  - {id: a}\n"
            "  - {id: y}\n",
            "t.yaml: line 8: not valid YAML/JSON: duplicate key 'depends_on'",
        ),
        (
            "business_services: [{id: b, depends_on: [b]}]\ncomponents: [{id: b}]\n",
            "t.yaml: business service 'b': duplicate id (also a component)",
        ),
    ],
    ids=[
        "reserved-division-id",
        "list-for-a-part",
        "duplicate-quorum-member",
        "duplicate-yaml-key",
        "service-reuses-component-id",
    ],
)
def test_forbidden_shapes_are_rejected_in_one_line(body: str, message: str) -> None:
    with pytest.raises(TopologyError) as caught:
        parse_topology_text(HEAD + body, "t.yaml")
    assert str(caught.value) == message


def test_both_yaml_readers_give_the_same_topology() -> None:
    """The fast reader (ryaml, YAML 1.2) and the strict PyYAML one agree on every example."""
    import yaml

    from correlator.core.topology_parse import parse_topology
    from correlator.topology_files import _StrictLoader, load_topology

    for path in sorted(Path("topologies").glob("*.yaml")):
        fast = load_topology(path)
        strict = parse_topology(yaml.load(path.read_bytes(), Loader=_StrictLoader), str(path))
        assert fast.version == strict.version
        assert fast.nodes == strict.nodes
