"""`correlator topology import` end to end: real inputs in, a topology the engine runs on out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from correlator.topology_files import load_topology

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "importers" / "fixtures"
MANIFESTS = FIXTURES / "kubernetes" / "microservices-demo.yaml"
OVERLAY = ROOT / "topologies" / "overlays" / "online-boutique.yaml"
EXAMPLES = FIXTURES / "backstage" / "examples"


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "correlator", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_kubernetes_import_with_overlay_feeds_the_engine(tmp_path: Path) -> None:
    out = tmp_path / "online-boutique.yaml"
    done = _run(
        "topology", "import", "--from", "kubernetes", MANIFESTS, "--overlay", OVERLAY, "-o", out
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "unresolved: frontend SHOPPING_ASSISTANT_SERVICE_ADDR=shoppingassistantservice:80: "
        "'shoppingassistantservice' names no Service in the input",
        "overlay: 2 segments, 3 business services added, 0 changed, 1 components added, "
        "4 changed, 0 divisions, 0 alert rules",
        f"imported 12 components, 16 dependencies from 35 Kubernetes objects; wrote "
        f"online-boutique to {out}",
    ]
    topology = load_topology(out)
    frontend = topology.nodes["frontend"]
    # The overlay's depends_on wins: ads and recommendations only degrade the page.
    assert [(e.kind, e.members) for e in frontend.entries][-1] == (
        "soft",
        ("adservice", "recommendationservice"),
    )
    assert frontend.owner == "team-storefront"
    assert frontend.aliases == ("frontend-external",)  # imported, kept beside the overlay's keys
    assert topology.nodes["redis-cart"].aliases == ("redis-cart-master",)
    assert topology.nodes["redis-cart"].kind == "cache"
    assert [e.members for e in topology.nodes["paymentservice"].entries] == [("payment-provider",)]

    # A crash-looping cart pod cuts every shopper off: frontend needs cartservice.
    alerts = tmp_path / "alerts.json"
    alerts.write_text(
        json.dumps(
            {
                "version": "4",
                "status": "firing",
                "receiver": "correlator",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {
                            "alertname": "KubePodCrashLooping",
                            "pod": "cartservice-5f9c7d8b6-x2x9q",
                            "severity": "critical",
                        },
                        "annotations": {"summary": "cartservice is crash looping"},
                        "startsAt": "2026-01-05T10:00:00Z",
                    }
                ],
            }
        )
    )
    replay = _run("replay", "--topology", out, "--summary", alerts)
    assert replay.returncode == 0, replay.stderr
    summary = json.loads(replay.stdout)
    assert summary["customers_affected"] == 1_150_000
    assert summary["open_incidents"][0]["root_causes"] == ["cartservice"]


def test_same_input_same_bytes_whatever_the_file_order(tmp_path: Path) -> None:
    files = [
        EXAMPLES / "all-components.yaml",
        EXAMPLES / "all-resources.yaml",
        EXAMPLES / "all-systems.yaml",
        EXAMPLES / "apis",
    ]
    outputs = []
    for index, order in enumerate([files, files, list(reversed(files))]):
        out = tmp_path / f"out-{index}.yaml"
        done = _run(
            "topology", "import", "--from", "backstage", *order, "--name", "music", "-o", out
        )
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes().split(b"\n", 1)[1])  # line 1 names the files, in order
    assert outputs[0] == outputs[1] == outputs[2]
    assert load_topology(tmp_path / "out-0.yaml").name == "music"


def test_otel_import_to_stdout() -> None:
    done = _run(
        "topology",
        "import",
        "--from",
        "otel",
        FIXTURES / "otel" / "jaeger-ui-small.json",
        "--min-calls",
        "10000",
        "-o",
        "-",
    )
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(done.stdout)
    assert doc["name"] == "jaeger-ui-small"
    assert [c["id"] for c in doc["components"]] == [f"Service{i}" for i in range(1, 9)]
    assert done.stderr.splitlines()[-1] == (
        "imported 8 components, 6 dependencies from 7 call-graph edges; wrote jaeger-ui-small to -"
    )


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad_overlay = tmp_path / "overlay.yaml"
    bad_overlay.write_text(
        "apiVersion: correlator/v1\nname: x\nbusiness_services:\n"
        "  - id: checkout\n    depends_on: [checkout-api]\n"
    )
    unknown_key = tmp_path / "unknown.yaml"
    unknown_key.write_text("apiVersion: correlator/v1\nservices: []\n")
    cases = {
        "missing file": (["--from", "kubernetes", tmp_path / "nope.yaml"], "cannot read"),
        "wrong source": (
            ["--from", "kubernetes", EXAMPLES / "all-systems.yaml"],
            "nothing to import: no Deployments",
        ),
        "not YAML": (["--from", "otel", ROOT / "README.md"], "not valid YAML/JSON"),
        "overlay names an unknown node": (
            ["--from", "kubernetes", MANIFESTS, "--overlay", bad_overlay],
            "business service 'checkout': unknown reference 'checkout-api'",
        ),
        "overlay with an unknown key": (
            ["--from", "kubernetes", MANIFESTS, "--overlay", unknown_key],
            "unknown key 'services' in the overlay",
        ),
    }
    for name, (args, message) in cases.items():
        out = tmp_path / "out.yaml"
        done = _run("topology", "import", *args, "-o", out)
        assert done.returncode == 2, name
        assert len(done.stderr.splitlines()) == 1, (name, done.stderr)
        assert message in done.stderr, (name, done.stderr)
        assert "Traceback" not in done.stderr
        assert not out.exists(), name
