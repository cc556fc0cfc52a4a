"""`correlator topology show|validate` and `topology-generate` on the command line: what they
print and their exit codes (moved out of tests/core, which runs only the pure core)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from correlator.synthetic import generate_topology
from correlator.topology_files import load_topology

ROOT = Path(__file__).resolve().parent.parent


def test_show_explains_counts_cycles_dependencies_and_reach() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "correlator", "topology", "show", "topologies/acme-shop.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    lines = out.stdout.splitlines()
    assert lines[1] == "  26 components, 6 business services, 4 segments, 400,400 customers"
    assert "  cycles: 2" in lines
    assert "    productcatalogservice -> recommendationservice" in lines
    assert any(line.startswith("  checkout (tier 1, used by ") for line in lines)
    reach = {
        line.split(":")[0].strip(): line.split(":", 1)[1].strip()
        for line in lines[lines.index("components (the business services each can affect):") + 1 :]
    }
    assert set(reach["cart-db-2 (database)"].split(", ")) >= {"cart", "checkout"}
    assert "recommendations" in reach["recommendationservice (service)"]
    assert out.stderr.count("warning: ") == 2  # cycles are legal: warnings, exit 0


# --- the command line ---------------------------------------------------------------------------


def _correlator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "correlator", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


EXAMPLES = ("acme-shop", "bank", "saas")


@pytest.mark.parametrize("name", EXAMPLES)
def test_cli_validate_good(name: str) -> None:
    result = _correlator("topology", "validate", f"topologies/{name}.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"topologies/{name}.yaml: ok — {name} version ")
    warnings = [line for line in result.stderr.splitlines() if line]
    cycles = len(load_topology(ROOT / "topologies" / f"{name}.yaml").cycles)
    assert len(warnings) == cycles  # one warning per cycle, nothing else
    assert all(" cycle: " in line for line in warnings)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "apiVersion: correlator/v1\nname: [x\n",
            "line 3: not valid YAML/JSON: did not find expected ',' or ']'",  # libyaml's words
        ),
        (
            "apiVersion: correlator/v1\nname: x\nsegments:\n  - {id: s, customers: 1, uses: []}\n",
            "segment 's': uses nothing: list at least one business service",
        ),
    ],
    ids=["yaml-syntax", "segment-uses-nothing"],
)
def test_cli_validate_bad(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = _correlator("topology", "validate", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"correlator: error: {path}: {problem}\n"


def test_cli_validate_missing_file() -> None:
    result = _correlator("topology", "validate", "topologies/does-not-exist.yaml")
    assert result.returncode == 2
    assert result.stderr == (
        "correlator: error: topologies/does-not-exist.yaml: cannot read: "
        "No such file or directory\n"
    )


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_cli_generate_writes_a_valid_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"synthetic{suffix}"
    result = _correlator("topology-generate", "--components", "400", "--seed", "2", "-o", str(path))
    assert result.returncode == 0, result.stderr
    topology = load_topology(path)
    assert len(list(topology.components)) == 400
    assert topology.name == "synthetic-400-s2"
    if suffix == ".json":
        assert json.loads(path.read_text(encoding="utf-8")) == generate_topology(400, seed=2)


def test_cli_generate_stdout_and_errors() -> None:
    result = _correlator("topology-generate", "--components", "30")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == generate_topology(30)
    bad = _correlator("topology-generate", "--components", "0")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == "correlator: error: --components must be at least 1, got 0\n"
