"""Ingest throughput: decode + normalise + match of Alertmanager payloads, in alerts/s, next to
`orjson.loads` of the same bytes measured in the same run (the floor any Python decoder pays).

Matching runs against a topology of a few hundred components, with the per-label-set cache
(realistic: a firing alert is re-sent with the same labels) and without it (every label set new).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import orjson

from correlator.adapters import decode_payload
from correlator.core.matching import Matcher
from correlator.core.topology import Topology
from correlator.core.topology_parse import parse_topology

COMPONENTS = 300
RECEIVED_AT = 1_700_000_000_000
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def topology(n: int = COMPONENTS) -> Topology:
    """n components: a third matched by selectors, a third by alias, a third by id."""
    components: list[dict[str, object]] = []
    for i in range(n):
        comp: dict[str, object] = {"id": f"svc-{i:03d}", "kind": "service"}
        if i % 3 == 0:
            comp["match"] = [
                {"namespace": "shop", "app": f"svc-{i:03d}"},
                {"pod": f"svc-{i:03d}-canary-*"},
            ]
        elif i % 3 == 1:
            comp["aliases"] = [f"svc{i:03d}", f"legacy-{i:03d}"]
        components.append(comp)
    doc = {
        "apiVersion": "correlator/v1",
        "name": "bench",
        "components": components,
        "business_services": [{"id": "shop", "depends_on": [c["id"] for c in components]}],
        "segments": [{"id": "everyone", "customers": 1000, "uses": ["shop"]}],
    }
    return parse_topology(doc, "bench")


def _alert(rng: random.Random, i: int) -> dict[str, object]:
    n = rng.randrange(COMPONENTS)
    suffix = "".join(rng.choice(_ALPHABET) for _ in range(5))
    labels = {
        "alertname": rng.choice(["KubePodCrashLooping", "HighErrorRate", "HighLatency"]),
        "severity": rng.choice(["critical", "warning", "info"]),
        "namespace": "shop",
        "pod": f"svc-{n:03d}-7d9f8c6b5-{suffix}",
        "instance": f"10.0.{n // 250}.{n % 250}:8080",
        "job": "kubernetes-pods",
        "prometheus": "monitoring/k8s",
    }
    if n % 3 == 0:
        labels["app"] = f"svc-{n:03d}"
    started = RECEIVED_AT - rng.randrange(3_600_000)
    return {
        "status": "firing" if i % 5 else "resolved",
        "labels": labels,
        "annotations": {
            "summary": f"{labels['alertname']} on {labels['pod']}",
            "description": "Pod is restarting 1.5 times / 10 minutes.",
            "runbook_url": "https://runbooks.example/" + labels["alertname"],
        },
        "startsAt": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(started / 1000))}."
        f"{started % 1000:03d}Z",
        "endsAt": "0001-01-01T00:00:00Z" if i % 5 else "2023-11-14T22:13:20.000Z",
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
        "fingerprint": f"{rng.getrandbits(64):016x}",
    }


def payloads(count: int, per_payload: int, seed: int = 7) -> list[bytes]:
    """`count` Alertmanager webhook payloads of `per_payload` alerts each."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        alerts = [_alert(rng, i) for i in range(per_payload)]
        doc = {
            "receiver": "correlator",
            "status": "firing",
            "alerts": alerts,
            "groupLabels": {"namespace": "shop"},
            "commonLabels": {"namespace": "shop"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.example:9093",
            "version": "4",
            "groupKey": '{}:{namespace="shop"}',
            "truncatedAlerts": 0,
        }
        out.append(orjson.dumps(doc))
    return out


def _rate(fn: Callable[[], int], seconds: float = 1.0) -> float:
    """Alerts per second of `fn` (which returns how many alerts it handled), best of 3 rounds."""
    fn()  # warm up caches and the allocator
    best = 0.0
    for _ in range(3):
        done = 0
        start = time.perf_counter()
        elapsed = 0.0
        while elapsed < seconds / 3:
            done += fn()
            elapsed = time.perf_counter() - start
        best = max(best, done / elapsed)
    return best


def _ingest(batch: list[bytes], matcher: Matcher) -> Callable[[], int]:
    def run() -> int:
        n = 0
        match = matcher.match
        for raw in batch:
            decoded = decode_payload(raw, RECEIVED_AT)
            for alert in decoded.alerts:
                match(alert.labels)
            n += len(decoded.alerts)
        return n

    return run


def _loads(batch: list[bytes], per_payload: int) -> Callable[[], int]:
    def run() -> int:
        loads = orjson.loads
        for raw in batch:
            loads(raw)
        return len(batch) * per_payload

    return run


def main() -> None:
    topo = topology()
    print(f"topology: {COMPONENTS} components; rates in alerts/s (best of 3), one core")
    print(
        f"{'payload':<22}{'orjson.loads':>14}{'ingest cached':>15}{'ratio':>8}"
        f"{'ingest uncached':>17}{'ratio':>8}"
    )
    for per_payload, count in ((1, 2000), (100, 40)):
        batch = payloads(count, per_payload)
        decoded = decode_payload(batch[0], RECEIVED_AT)
        assert len(decoded.alerts) == per_payload and not decoded.dead_letters, decoded
        baseline = _rate(_loads(batch, per_payload))
        cached = _rate(_ingest(batch, Matcher(topo)))
        uncached = _rate(_ingest(batch, Matcher(topo, cache_size=0)))
        label = f"{per_payload}-alert Alertmanager"
        print(
            f"{label:<22}{baseline:>14,.0f}{cached:>15,.0f}{baseline / cached:>7.1f}x"
            f"{uncached:>17,.0f}{baseline / uncached:>7.1f}x"
        )
    print("ratio = orjson.loads rate / ingest rate (how many times slower than parsing alone)")


if __name__ == "__main__":
    main()
