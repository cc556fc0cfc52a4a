"""Synthetic topologies (DESIGN §3 v1 documents) for scale tests, benchmarks and demos.

`generate_topology` builds a plain-data document shaped like a real estate, bottom-up:
zones → hosts → data stores → platform → services → edge, then business services on the edge
and service layers, then segments. Dependencies point down the layers (plus a few deliberate
back-edges, so cycles exist as they do in real call graphs). Targets are drawn with a Zipf-like
bias, so a few shared platform components and data stores carry most of the fan-in, as in
production. Pure and deterministic: the same arguments give the same document.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

_SERVICE_WORDS = (
    "orders",
    "cart",
    "checkout",
    "payments",
    "pricing",
    "inventory",
    "catalog",
    "search",
    "users",
    "profiles",
    "accounts",
    "billing",
    "invoices",
    "shipping",
    "tracking",
    "reviews",
    "ratings",
    "recommendations",
    "ads",
    "promotions",
    "loyalty",
    "notifications",
    "email",
    "sms",
    "fraud",
    "risk",
    "ledger",
    "reports",
    "exports",
    "imports",
    "media",
    "images",
    "thumbnails",
    "uploads",
    "sessions",
    "tokens",
    "audit",
    "consent",
    "geo",
    "tax",
    "currency",
    "quotes",
    "returns",
    "support",
    "chat",
    "feeds",
    "timeline",
    "comments",
)
_PLATFORM_KINDS = (
    ("auth", "auth"),
    ("config", "config"),
    ("mesh", "service-mesh"),
    ("secrets", "vault"),
    ("flags", "feature-flags"),
    ("ratelimit", "rate-limiter"),
    ("dns", "dns"),
    ("registry", "service-registry"),
    ("queue", "message-bus"),
    ("scheduler", "scheduler"),
)
_STORE_KINDS = (
    ("pg", "database"),
    ("mysql", "database"),
    ("redis", "cache"),
    ("memcached", "cache"),
    ("kafka", "queue"),
    ("es", "search-cluster"),
    ("cassandra", "database"),
    ("s3", "bucket"),
)
_EDGE_KINDS = (("lb", "load-balancer"), ("gw", "api-gateway"), ("bff", "bff"), ("cdn", "cdn"))
_TEAMS = (
    "team-core",
    "team-data",
    "team-sre",
    "team-payments",
    "team-growth",
    "team-search",
    "team-identity",
    "team-mobile",
    "team-web",
    "team-platform",
    "team-fulfilment",
    "team-ml",
)
_SEGMENT_WORDS = (
    ("consumers", "Consumers"),
    ("smb", "Small businesses"),
    ("enterprise", "Enterprise"),
    ("partners", "Partners"),
    ("mobile", "Mobile app users"),
    ("internal", "Internal users"),
    ("public-sector", "Public sector"),
    ("trial", "Trial accounts"),
)
_REGIONS = ("eu", "us", "apac", "latam")

T = TypeVar("T")

# Layer sizes as fractions of all components; services take the remainder.
_ZONE_FRACTION = 0.005
_HOST_FRACTION = 0.15
_STORE_FRACTION = 0.20
_PLATFORM_FRACTION = 0.06
_EDGE_FRACTION = 0.04


class _Picker(Generic[T]):
    """Draws items from a pool with a Zipf-like bias towards the earliest ones."""

    def __init__(self, rng: random.Random, items: Sequence[T], exponent: float = 1.1) -> None:
        self._rng = rng
        self.items = list(items)
        self._cum = list(itertools.accumulate(1.0 / (i + 1) ** exponent for i in range(len(items))))

    def pick(self, count: int, *, limit: int | None = None) -> list[T]:
        """Up to `count` distinct ids, drawn from the first `limit` items when given."""
        n = len(self.items) if limit is None else min(limit, len(self.items))
        count = min(count, n)
        if count <= 0:
            return []
        total = self._cum[n - 1]
        chosen: dict[int, None] = {}
        for _ in range(4 * count):  # duplicates are dropped; a few extra draws make up for them
            index = bisect.bisect_right(self._cum, self._rng.random() * total, 0, n - 1)
            chosen[index] = None
            if len(chosen) == count:
                break
        return [self.items[i] for i in chosen]


def _sizes(components: int) -> dict[str, int]:
    """Layer sizes summing to `components`; small documents keep at least edge + services."""
    n = components
    sizes = {
        "zone": min(12, max(1, round(n * _ZONE_FRACTION))),
        "host": max(1, round(n * _HOST_FRACTION)),
        "store": max(1, round(n * _STORE_FRACTION)),
        "platform": max(1, round(n * _PLATFORM_FRACTION)),
        "edge": max(1, round(n * _EDGE_FRACTION)),
    }
    # Tiny documents: drop the lowest layers first until services get at least a third.
    for layer in ("zone", "host", "platform", "store"):
        if n - sum(sizes.values()) >= max(1, n // 3):
            break
        sizes[layer] = 0
    if sum(sizes.values()) > n:
        sizes = {layer: 0 for layer in sizes}
        sizes["edge"] = 1
    sizes["service"] = n - sum(sizes.values())
    return sizes


def _divisions(rng: random.Random) -> list[dict[str, Any]]:
    """A region division with uneven shares, a cell division and a shard division."""
    regions = _REGIONS[: rng.randint(2, 4)]
    weights = [rng.randint(10, 60) for _ in regions]
    total = sum(weights)
    percents = [w * 100 // total for w in weights]
    percents[0] += 100 - sum(percents)  # shares in whole percent, summing to exactly 1
    cells = rng.choice((4, 6))
    shards = rng.choice((4, 8))
    return [
        {
            "id": "region",
            "name": "Home region",
            "shares": {r: p / 100 for r, p in zip(regions, percents, strict=True)},
        },
        {"id": "cell", "name": "Tenant cell", "shares": [f"cell-{i + 1}" for i in range(cells)]},
        {"id": "shard", "name": "Customer shard", "shares": [f"s{i + 1}" for i in range(shards)]},
    ]


def generate_topology(
    components: int,
    *,
    seed: int = 0,
    services: int | None = None,
    segments: int | None = None,
) -> dict[str, Any]:
    """A valid topology v1 document with `components` components (deterministic for `seed`).

    `services` business services (default: about one per 20 components, at least 2) and
    `segments` segments (default: about one per 5 business services, at least 2).
    """
    if components < 1:
        raise ValueError("components must be at least 1")
    rng = random.Random(seed)
    n_services = services if services is not None else max(2, components // 20)
    n_segments = segments if segments is not None else max(2, n_services // 5)
    if n_services < 1 or n_segments < 1:
        raise ValueError("services and segments must be at least 1")
    sizes = _sizes(components)
    divisions = _divisions(rng)
    nodes: list[dict[str, Any]] = []

    def add(node_id: str, kind: str, deps: list[Any] | None = None) -> dict[str, Any]:
        node: dict[str, Any] = {"id": node_id, "kind": kind, "owner": rng.choice(_TEAMS)}
        if deps:
            node["depends_on"] = deps
        nodes.append(node)
        return node

    # Zones and hosts: every host lives in one zone.
    zones = [f"zone-{_REGIONS[i % 4]}-{'abc'[i // 4]}" for i in range(sizes["zone"])]
    for zone in zones:
        add(zone, "zone")
    hosts: list[str] = []
    for i in range(sizes["host"]):
        host = f"host-{i + 1:05d}"
        node = add(host, "host", [zones[i % len(zones)]] if zones else None)
        node["aliases"] = [f"{host}.prod.internal"]
        hosts.append(host)

    def on_hosts(count: int) -> list[Any]:
        """Replicas spread over `count` hosts: any one of them keeps the workload up."""
        if not hosts:
            return []
        chosen = rng.sample(hosts, min(count, len(hosts)))
        return [chosen[0]] if len(chosen) == 1 else [{"any": chosen}]

    # Data stores, in units a consumer depends on as a whole: a single store (bare id), a
    # replica pair (any), a consensus group (quorum of a majority) or a sharded family (split
    # over a named division).
    units: list[Any] = []
    budget = sizes["store"]
    serial = 0
    while budget > 0:
        serial += 1
        prefix, kind = rng.choice(_STORE_KINDS)
        base = f"{prefix}-{rng.choice(_SERVICE_WORDS)}-{serial}"
        roll = rng.random()
        division = rng.choice(divisions[1:]) if roll >= 0.92 else None
        if division is not None and len(list(division["shares"])) <= budget:
            parts = list(division["shares"])
            members = {p: f"{base}-{p}" for p in parts}
            for member in members.values():
                add(member, kind, on_hosts(1))
            units.append({"split": {"by": division["id"], "members": members}})
            budget -= len(parts)
        elif 0.82 <= roll < 0.92 and budget >= 3:
            size = 5 if budget >= 5 and rng.random() < 0.3 else 3
            group = [f"{base}-{i + 1}" for i in range(size)]
            for member in group:
                add(member, kind, on_hosts(1))
            units.append({"quorum": size // 2 + 1, "of": group})
            budget -= size
        elif 0.6 <= roll < 0.82 and budget >= 2:
            pair = [f"{base}-a", f"{base}-b"]
            for member in pair:
                add(member, kind, on_hosts(1))
            units.append({"any": pair})
            budget -= 2
        else:
            add(base, kind, on_hosts(1))
            units.append(base)
            budget -= 1
    rng.shuffle(units)
    store_picker = _Picker(rng, units)

    # Platform: shared by many services (the heavy fan-in), each on a few stores.
    platform: list[str] = []
    for i in range(sizes["platform"]):
        prefix, kind = _PLATFORM_KINDS[i % len(_PLATFORM_KINDS)]
        node_id = f"{prefix}-{i // len(_PLATFORM_KINDS) + 1}"
        deps = on_hosts(rng.randint(2, 3)) + store_picker.pick(rng.randint(0, 2))
        # Lower platform components may use earlier ones (config, secrets, dns).
        if platform and rng.random() < 0.5:
            deps.append(rng.choice(platform))
        add(node_id, kind, deps)
        platform.append(node_id)
    platform_picker = _Picker(rng, platform, exponent=1.3)

    # Services: depend on their hosts, earlier services, the platform and stores. Fan-out (the
    # number of entries) is 1–8, mostly small: a long tail of orchestrators calls many.
    service_ids = [
        f"{_SERVICE_WORDS[i % len(_SERVICE_WORDS)]}-svc-{i + 1}" for i in range(sizes["service"])
    ]
    service_picker = _Picker(rng, service_ids, exponent=0.9)
    service_nodes: list[dict[str, Any]] = []
    for i, node_id in enumerate(service_ids):
        deps = on_hosts(rng.randint(2, 3))
        room = min(8, 2 + int(rng.expovariate(0.35))) - len(deps)
        soft: list[str] = []
        if i and room > 0 and rng.random() < 0.08:
            soft = service_picker.pick(1, limit=i)
            room -= 1
        n_platform = rng.randint(0, min(2, room))
        deps.extend(platform_picker.pick(n_platform))
        n_callees = rng.randint(0, room - n_platform) if i else 0
        deps.extend(s for s in service_picker.pick(n_callees, limit=i) if s not in soft)
        deps.extend(store_picker.pick(max(0, room - n_platform - n_callees)))
        if soft:
            deps.append({"soft": soft})
        node = add(node_id, "service", deps)
        if rng.random() < 0.3:
            node["match"] = [{"app": node_id}, {"pod": f"{node_id}-*"}]
        service_nodes.append(node)

    # Occasional cycles: a callee calls back its caller (mutual calls are real and legal).
    # At least one whenever some service calls another, so every large document has one.
    index_of = {node_id: i for i, node_id in enumerate(service_ids)}
    calls = [
        (node, callee)
        for node in service_nodes
        for callee in node.get("depends_on", [])
        if isinstance(callee, str) and callee in index_of
    ]
    back_edges = [pair for pair in calls if rng.random() < 0.004]
    if calls and not back_edges:
        back_edges = [rng.choice(calls)]
    for node, callee in back_edges:
        service_nodes[index_of[callee]].setdefault("depends_on", []).append(node["id"])

    # Edge: load balancers, gateways and BFFs in front of popular services. The last one is a
    # global traffic manager sending each customer to their home region's edge (a region split).
    edge: list[str] = []
    region_parts = list(divisions[0]["shares"])
    for i in range(sizes["edge"]):
        prefix, kind = _EDGE_KINDS[i % len(_EDGE_KINDS)]
        node_id = f"{prefix}-{i + 1}"
        if i == sizes["edge"] - 1 and i >= len(region_parts):
            members = dict(zip(region_parts, edge[-len(region_parts) :], strict=True))
            node = add(f"gtm-{i + 1}", "dns", [{"split": {"by": "region", "members": members}}])
            node["name"] = "Global traffic manager"
            edge.append(node["id"])
            continue
        deps = service_picker.pick(rng.randint(1, 6)) + platform_picker.pick(1)
        if not deps and units:
            deps = store_picker.pick(1)
        node = add(node_id, kind, deps)
        node["match"] = [{"loadbalancer": f"{node_id}-prod"}]
        edge.append(node_id)

    edge_picker = _Picker(rng, edge, exponent=0.8)
    tiers = (1, 2, 2, 3, 3, 3, 4, 4)
    business: list[dict[str, Any]] = []
    for i in range(n_services):
        word = _SERVICE_WORDS[i % len(_SERVICE_WORDS)]
        deps = edge_picker.pick(1)
        deps += [s for s in service_picker.pick(rng.randint(1, 4)) if s not in deps]
        business.append(
            {
                "id": f"bs-{word}-{i + 1}",
                "name": f"{word.capitalize()} ({i + 1})",
                "tier": rng.choice(tiers),
                "owner": rng.choice(_TEAMS),
                "runbook": f"https://runbooks.example/{word}-{i + 1}",
                "depends_on": deps,
            }
        )

    business_ids = [b["id"] for b in business]
    segment_list: list[dict[str, Any]] = []
    for i in range(n_segments):
        word, title = _SEGMENT_WORDS[i % len(_SEGMENT_WORDS)]
        uses = rng.sample(business_ids, rng.randint(1, min(5, len(business_ids))))
        # Cover every business service at least once when there are enough segments.
        first = business_ids[i % len(business_ids)]
        if first not in uses:
            uses[0] = first
        segment_list.append(
            {
                "id": f"seg-{word}-{i + 1}",
                "name": f"{title} {i + 1}",
                "customers": int(10 ** rng.uniform(2, 6)),
                "uses": uses,
            }
        )

    return {
        "apiVersion": "correlator/v1",
        "name": f"synthetic-{components}-s{seed}",
        "description": f"generated by correlator.synthetic (components={components}, seed={seed})",
        "divisions": divisions,
        "segments": segment_list,
        "business_services": business,
        "components": nodes,
    }
