"""A deterministic alert storm on acme-shop for the crash and takeover scenarios.

Each alert is one canonical-JSON line, one second of event time after the previous one; every
component flips between firing and resolved each time its turn comes, with a critical or a
warning severity, so incidents open, grow, merge, resolve and reopen all through the storm.
Sorted by event time, as replay reads it.
"""

from __future__ import annotations

import zlib

import orjson

from correlator.core.timefmt import SECOND, format_time, parse_time

T0 = parse_time("2025-03-14T12:00:00Z")
COMPONENTS = (
    "cart-db-0",
    "cart-db-1",
    "cart-db-2",
    "cart-db-3",
    "redis-cart-a",
    "redis-cart-b",
    "redis-session-a",
    "paymentservice",
    "currencyservice",
    "emailservice",
    "k8s-node-1",
    "k8s-node-2",
    "catalog-bucket",
    "recommendationservice",
)


def storm(count: int, seed: int = 7) -> list[bytes]:
    """`count` alert lines in event-time order."""
    firing: dict[str, tuple[str, str, int]] = {}
    lines: list[bytes] = []
    for i in range(count):
        at = T0 + i * SECOND
        h = zlib.crc32(f"{seed}:{i}".encode())
        component = COMPONENTS[h % len(COMPONENTS)]
        if component in firing:
            fingerprint, severity, started = firing.pop(component)
            status, ends = "resolved", at
        else:
            severity = "critical" if (h >> 8) % 3 else "warning"
            fingerprint, started, status, ends = f"{component}-{i}", at, "firing", None
            firing[component] = (fingerprint, severity, started)
        alert = {
            "fingerprint": fingerprint,
            "status": status,
            "severity": severity,
            "labels": {"alertname": "StormProbe", "component": component, "severity": severity},
            "annotations": {},
            "summary": f"{component} probe failing",
            "starts_at": format_time(started),
            "ends_at": None if ends is None else format_time(ends),
            "source": "storm",
            "received_at": format_time(at + 500),
        }
        lines.append(orjson.dumps(alert))
    return lines
