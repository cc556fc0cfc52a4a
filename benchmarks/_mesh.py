"""A large topology of another shape than `correlator.synthetic`'s, to check the core against:
a layered service mesh. Forty layers of components, each depending on one to four components
of the five layers below it (`require`, `any` of 2–3, `quorum` 2 of 3, `soft`); sixty business
services on the top layers, a third split by region (3 parts) and a third by shard (16 parts);
fifty customer segments. Upstream regions are far larger than in the synthetic estates (every
component feeds much of the mesh above it).

    python -m benchmarks._mesh 12000 > mesh.yaml
    python -m benchmarks.storm --topology mesh.yaml
"""

from __future__ import annotations

import random
import sys
from typing import Any

import yaml

LAYERS = 40
REGIONS = {"eu": 0.5, "us": 0.35, "ap": 0.15}
SHARDS = [f"s{i:02d}" for i in range(16)]


def generate_mesh(components: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    layers: list[list[str]] = []
    nodes: list[dict[str, Any]] = []
    for layer in range(LAYERS):
        ids = [f"l{layer:02d}-c{i:05d}" for i in range(components // LAYERS)]
        layers.append(ids)
        for cid in ids:
            node: dict[str, Any] = {
                "id": cid,
                "kind": rng.choice(["service", "database", "queue", "cache", "host"]),
                "owner": f"team-{rng.randrange(60)}",
            }
            if layer:
                node["depends_on"] = _dependencies(rng, layers[max(0, layer - 5) : layer])
            nodes.append(node)
    services = []
    for i in range(60):
        depends: list[Any] = list(dict.fromkeys(rng.choice(layers[-1]) for _ in range(2)))
        if i % 3 == 0:
            members = {r: rng.choice(layers[-2]) for r in REGIONS}
            depends.append({"split": {"by": "region", "members": members}})
        elif i % 3 == 1:
            members = {s: rng.choice(layers[-3]) for s in SHARDS}
            depends.append({"split": {"by": "shard", "members": members}})
        services.append(
            {
                "id": f"bs-{i:02d}",
                "name": f"Business service {i}",
                "tier": 1 + i % 4,
                "owner": f"team-{i}",
                "depends_on": depends,
            }
        )
    segments = [
        {
            "id": f"seg-{i:02d}",
            "name": f"Segment {i}",
            "owner": "business",
            "customers": rng.randint(1_000, 500_000),
            "uses": sorted({f"bs-{rng.randrange(60):02d}" for _ in range(rng.randint(2, 8))}),
        }
        for i in range(50)
    ]
    return {
        "apiVersion": "correlator/v1",
        "name": f"mesh-{components}",
        "divisions": [
            {"id": "region", "name": "Region", "shares": REGIONS},
            {"id": "shard", "name": "Shard", "shares": dict.fromkeys(SHARDS, 1 / 16)},
        ],
        "segments": segments,
        "business_services": services,
        "components": nodes,
    }


def _dependencies(rng: random.Random, below: list[list[str]]) -> list[Any]:
    out: list[Any] = []
    for _ in range(rng.randint(1, 4)):
        lower = rng.choice(below)
        roll = rng.random()
        entry: Any
        if roll < 0.55:
            entry = rng.choice(lower)
        elif roll < 0.8:
            entry = {"any": rng.sample(lower, rng.randint(2, 3))}
        elif roll < 0.88:
            entry = {"quorum": 2, "of": rng.sample(lower, 3)}
        else:
            entry = {"soft": [rng.choice(lower)]}
        if entry not in out:
            out.append(entry)
    return out


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 12_000
    yaml.safe_dump(generate_mesh(size), sys.stdout, sort_keys=False)
