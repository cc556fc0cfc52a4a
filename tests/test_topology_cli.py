"""`correlator topology show` explains a topology: counts, cycles, dependencies and reach."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
