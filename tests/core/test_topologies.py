"""The topology files in `topologies/`, their scenario alert files, the synthetic generator and
the validator's messages (DESIGN §3, §4). The command line: tests/test_topology_cli.py."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from correlator.core.alerts import alert_from_dict
from correlator.core.topology import Topology
from correlator.core.topology_parse import parse_topology
from correlator.errors import TopologyError
from correlator.synthetic import generate_topology
from correlator.topology_files import load_topology

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = ROOT / "topologies"
SCENARIOS = TOPOLOGIES / "scenarios"
TOPOLOGY_FILES = sorted([*TOPOLOGIES.glob("*.yaml"), *TOPOLOGIES.glob("*.json")])
SCENARIO_FILES = sorted(SCENARIOS.glob("*.jsonl"))

# name -> (components, business services, segments, customers, divisions, cycles)
EXAMPLES: dict[str, tuple[int, int, int, int, int, int]] = {
    "acme-shop": (26, 6, 4, 400_400, 1, 2),
    "bank": (44, 7, 3, 2_568_000, 2, 0),
    "saas": (30, 8, 3, 564_000, 1, 0),
}


def _counts(topology: Topology) -> tuple[int, int, int, int, int, int]:
    return (
        len(list(topology.components)),
        len(list(topology.business_services)),
        len(topology.segments),
        topology.customers_total,
        len(topology.divisions),
        len(topology.cycles),
    )


# --- the example files --------------------------------------------------------------------------


def test_examples_are_present() -> None:
    assert {p.stem for p in TOPOLOGY_FILES} >= set(EXAMPLES)


@pytest.mark.parametrize("path", TOPOLOGY_FILES, ids=lambda p: p.name)
def test_topology_file_validates(path: Path) -> None:
    topology = load_topology(path)
    assert topology.name == path.stem
    if topology.name in EXAMPLES:
        assert _counts(topology) == EXAMPLES[topology.name]


def test_example_shapes() -> None:
    """Each example exercises the dependency kinds its README entry promises."""
    kinds = {
        name: {
            e.kind
            for n in load_topology(TOPOLOGIES / f"{name}.yaml").nodes.values()
            for e in n.entries
        }
        for name in EXAMPLES
    }
    assert kinds == {
        "acme-shop": {"require", "any", "soft", "split"},
        "bank": {"require", "any", "quorum", "soft", "split"},
        "saas": {"require", "any", "quorum", "soft", "split"},
    }
    acme = load_topology(TOPOLOGIES / "acme-shop.yaml")
    assert acme.cycles == (
        ("productcatalogservice", "recommendationservice"),
        ("shippingservice", "checkoutservice"),
    )
    bank = load_topology(TOPOLOGIES / "bank.yaml")
    shard_users = sorted(
        n.id for n in bank.nodes.values() for e in n.entries if e.division == "shard"
    )
    assert shard_users == ["card-auth", "ledger"]
    region_users = sorted(
        n.id for n in bank.nodes.values() for e in n.entries if e.division == "region"
    )
    assert region_users == ["atm-service", "corporate-api", "mobile-bff", "web-banking"]


# --- scenario alert files -----------------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_scenario_file_is_canonical_and_ordered(path: Path) -> None:
    topology_name = next(name for name in EXAMPLES if path.stem.startswith(name + "-"))
    assert (TOPOLOGIES / f"{topology_name}.yaml").exists()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines
    event_times: list[int] = []
    firing: set[str] = set()
    for line in lines:
        raw = json.loads(line)
        assert set(raw) == {
            "fingerprint",
            "status",
            "severity",
            "labels",
            "annotations",
            "summary",
            "starts_at",
            "ends_at",
            "source",
            "received_at",
        }
        alert = alert_from_dict(raw, received_at=0)  # raises on anything non-canonical
        assert alert.severity == raw["severity"]
        assert "alertname" in alert.labels
        assert (alert.ends_at is None) == (alert.status == "firing")
        assert 0 < alert.received_at - alert.event_time <= 5_000
        if alert.status == "firing":
            firing.add(alert.fingerprint)
        else:
            assert alert.fingerprint in firing, "resolved before it fired"
        event_times.append(alert.event_time)
    assert event_times == sorted(event_times)


def test_every_scenario_has_expectations() -> None:
    expected = (SCENARIOS / "EXPECTED.md").read_text(encoding="utf-8")
    for path in SCENARIO_FILES:
        assert f"`{path.name}`" in expected


# --- the synthetic generator --------------------------------------------------------------------


def test_generator_10k_components_validate_quickly() -> None:
    started = time.perf_counter()
    document = generate_topology(10_000, seed=7)
    elapsed = time.perf_counter() - started
    assert elapsed < 10.0
    topology = parse_topology(document, "synthetic")
    assert len(list(topology.components)) == 10_000
    assert len(list(topology.business_services)) == 500
    assert len(topology.segments) == 100
    kinds = {e.kind for n in topology.nodes.values() for e in n.entries}
    assert kinds == {"require", "any", "quorum", "split", "soft"}
    assert {e.division for n in topology.nodes.values() for e in n.entries} >= {
        "region",
        "cell",
        "shard",
    }
    assert topology.cycles
    # Power-law-ish fan-in: the top 1 % of nodes carry over a quarter of all dependency edges.
    fan_in = sorted((len(v) for v in topology.dependents.values()), reverse=True)
    assert sum(fan_in[: len(fan_in) // 100]) > sum(fan_in) / 4
    for segment in topology.segments:
        assert 1 <= len(segment.uses) <= 5
    for service in topology.business_services:
        roles = {topology.nodes[m].kind for e in service.entries for m in e.members}
        assert roles and roles <= {"service", "load-balancer", "api-gateway", "bff", "cdn", "dns"}


def test_generator_is_deterministic() -> None:
    assert generate_topology(500, seed=3) == generate_topology(500, seed=3)
    assert generate_topology(500, seed=3) != generate_topology(500, seed=4)


@pytest.mark.parametrize("components", [1, 2, 3, 5, 8, 20, 57, 300])
def test_generator_small_sizes_are_valid(components: int) -> None:
    for seed in range(5):
        document = generate_topology(components, seed=seed, services=3, segments=2)
        topology = parse_topology(document, "synthetic")
        assert len(list(topology.components)) == components
        assert len(list(topology.business_services)) == 3
        assert len(topology.segments) == 2


def test_generator_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        generate_topology(0)


# --- validator messages on broken variants of an example ---------------------------------------


def _component(doc: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(c for c in doc["components"] if c["id"] == node_id)


Mutation = Callable[[dict[str, Any]], None]

BROKEN: list[tuple[str, Mutation, str]] = [
    (
        "duplicate-id",
        lambda d: d["components"].append({"id": "etcd-2", "kind": "etcd"}),
        "component 'etcd-2': duplicate id (also a component)",
    ),
    (
        "unknown-reference",
        lambda d: _component(d, "accounts-api")["depends_on"].append("ledgr"),
        "component 'accounts-api': unknown reference 'ledgr'",
    ),
    (
        "unknown-reference-in-any",
        lambda d: _component(d, "card-auth")["depends_on"].__setitem__(
            2, {"any": ["hsm-a", "hsm-c"]}
        ),
        "component 'card-auth': any: unknown reference 'hsm-c'",
    ),
    (
        "quorum-too-big",
        lambda d: _component(d, "ledger-coordinator")["depends_on"][0].__setitem__("quorum", 4),
        "component 'ledger-coordinator': quorum 4 is larger than its group of 3",
    ),
    (
        "division-shares-not-1",
        lambda d: d["divisions"][0].__setitem__("shares", {"north": 0.55, "south": 0.35}),
        "division 'region': shares sum to 0.9, not 1",
    ),
    (
        "split-shares-not-1",
        lambda d: _component(d, "web-banking")["depends_on"].append(
            {"split": {"fps-gw-a": 0.5, "fps-gw-b": 0.6}}
        ),
        "component 'web-banking': split: shares sum to 1.1, not 1",
    ),
    (
        "negative-share",
        lambda d: d["divisions"][0].__setitem__("shares", {"north": 1.2, "south": -0.2}),
        "division 'region': share -0.2 is negative",
    ),
    (
        "negative-customers",
        lambda d: d["segments"][1].__setitem__("customers", -5),
        "segment 'business': customers must be >= 0, got -5",
    ),
    (
        "unknown-key",
        lambda d: _component(d, "hsm-a").__setitem__("dependson", ["hsm-b"]),
        "component 'hsm-a': unknown key 'dependson' (allowed: aliases, depends_on, description, "
        "id, kind, labels, match, name, owner, runbook)",
    ),
    (
        "segment-uses-nothing",
        lambda d: d["segments"][2].__setitem__("uses", []),
        "segment 'private-banking': uses nothing: list at least one business service",
    ),
    (
        "split-by-unknown-division",
        lambda d: _component(d, "ledger")["depends_on"][1]["split"].__setitem__("by", "shards"),
        "component 'ledger': split: by names unknown division 'shards'",
    ),
    (
        "split-by-missing-part",
        lambda d: _component(d, "ledger")["depends_on"][1]["split"]["members"].pop("s8"),
        "component 'ledger': split: missing part 's8' of division 'shard'",
    ),
]


@pytest.mark.parametrize(("mutate", "problem"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_variant_message(tmp_path: Path, mutate: Mutation, problem: str) -> None:
    document = yaml.safe_load((TOPOLOGIES / "bank.yaml").read_text(encoding="utf-8"))
    broken = copy.deepcopy(document)
    mutate(broken)
    path = tmp_path / "bank-broken.yaml"
    path.write_text(yaml.safe_dump(broken, sort_keys=False), encoding="utf-8")
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    message = str(caught.value)
    assert message == f"{path}: {problem}"
    assert "\n" not in message
