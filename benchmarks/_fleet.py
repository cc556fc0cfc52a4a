"""A third topology shape to check the core against: a Kubernetes fleet. Hosts in four zones;
three pods per deployment, each on a random host; a deployment needs a quorum of 2 of its 3
pods and calls up to three lower deployments (`require`, `any` of two, `soft`); 80 business
services, each split by region over four regional deployments and needing one shared one; 30
customer segments. Deep in hosts and pods, shallow in services: unlike `correlator.synthetic`'s
cell-sharded estates and `_mesh`'s layers.

    python -m benchmarks._fleet 10000 > fleet.yaml
    python -m benchmarks.storm --topology fleet.yaml
"""

from __future__ import annotations

import random
import sys
from typing import Any

import yaml

ZONES = 4
PODS = 3
REGIONS = ("r0", "r1", "r2", "r3")


def generate_fleet(components: int, seed: int = 5) -> dict[str, Any]:
    rng = random.Random(seed)
    hosts = max(ZONES, components // 17)
    deployments = max(len(REGIONS) * 2, (components - hosts - ZONES) // (PODS + 1))
    nodes: list[dict[str, Any]] = [{"id": f"zone-{z}", "kind": "zone"} for z in range(ZONES)]
    nodes += [
        {"id": f"host-{h:05d}", "kind": "host", "depends_on": [f"zone-{h % ZONES}"]}
        for h in range(hosts)
    ]
    for d in range(deployments):
        pods = [f"d{d:05d}-pod-{p}" for p in range(PODS)]
        nodes += [
            {"id": p, "kind": "pod", "depends_on": [f"host-{rng.randrange(hosts):05d}"]}
            for p in pods
        ]
        needs: list[Any] = [{"quorum": 2, "of": pods}]
        for _ in range(rng.randrange(4) if d >= 100 else 0):
            callee, other, kind = rng.randrange(d), rng.randrange(d), rng.random()
            if kind < 0.6:
                needs.append(f"dep-{callee:05d}")
            elif kind < 0.8 and other != callee:
                needs.append({"any": [f"dep-{callee:05d}", f"dep-{other:05d}"]})
            else:
                needs.append({"soft": [f"dep-{callee:05d}"]})
        nodes.append({"id": f"dep-{d:05d}", "kind": "deployment", "depends_on": needs})
    services: list[dict[str, Any]] = []
    for s in range(min(80, deployments // len(REGIONS))):
        regional = {
            r: f"dep-{deployments - 1 - s * len(REGIONS) - i:05d}" for i, r in enumerate(REGIONS)
        }
        shared = f"dep-{rng.randrange(deployments // 2, deployments):05d}"
        services.append(
            {
                "id": f"svc-{s:02d}",
                "tier": 1 + s % 4,
                "depends_on": [{"split": {"by": "region", "members": regional}}, shared],
            }
        )
    segments = [
        {
            "id": f"seg-{g:02d}",
            "customers": rng.randrange(1_000, 500_000),
            "uses": sorted({services[rng.randrange(len(services))]["id"] for _ in range(6)}),
        }
        for g in range(30)
    ]
    return {
        "apiVersion": "correlator/v1",
        "name": f"fleet-{components}",
        "divisions": [{"id": "region", "shares": dict.fromkeys(REGIONS, 0.25)}],
        "segments": segments,
        "business_services": services,
        "components": nodes,
    }


if __name__ == "__main__":
    yaml.safe_dump(generate_fleet(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000), sys.stdout)
