"""The simulated world: scenario names, payload records, alert texts, component identities,
and the clock and alerts of one simulation."""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from correlator.core.matching import Matcher
from correlator.core.timefmt import Millis
from correlator.core.topology import Node, Topology
from correlator.wire import raw_envelope

SCENARIOS: Final = {
    "storm": "one episode after another (some overlapping), all formats, noise, malformed input",
    "outage": "one root cause with symptoms, repeats, flapping and a recovery, then background",
    "flapping": "a root cause that fails and recovers again and again (reopened incidents)",
    "noise": "background only: unmapped and info alerts, heartbeats, malformed payloads",
    "story": "the demo's rolling outage: an incident at once, a second one, a merge that "
    "escalates, recoveries; the next act opens as the last one resolves",
}
"""Scenario names and what each produces."""

PayloadKind = Literal["episode", "repeat", "info", "unmapped", "heartbeat", "malformed"]
Via = Literal["alertmanager", "grafana", "pagerduty", "cloudwatch", "opsgenie"]


@dataclass(frozen=True, slots=True)
class SimPayload:
    """One simulated webhook delivery.

    `payload` is the JSON value a source would POST (a `str` for a body that is not JSON);
    `expected` says, for each alert the payload carries, in order, which component it is about
    (None: unmapped noise or a heartbeat); `key` keeps one alert's deliveries on one partition.
    """

    at: Millis
    kind: PayloadKind
    fmt: str
    key: str
    payload: Any
    expected: tuple[str | None, ...] = ()

    def to_json(self) -> bytes:
        """The record value on `alerts.raw`, as the ingress writes it."""
        return raw_envelope(self.payload, self.at, None)


# -- alert texts -----------------------------------------------------------------------------

ROOT_ALERTS: Final = (
    ("database", "PostgresInstanceDown", "{id} is not answering: pg_up == 0 for 1m"),
    ("cache", "RedisDown", "{id}: redis_up == 0, clients get connection refused"),
    ("host", "NodeDown", "{id} has been unreachable for 2m"),
    ("load-balancer", "LoadBalancer5xxHigh", "{id}: 41% of requests answered 502/503"),
    ("cluster", "KubeAPIDown", "{id}: the Kubernetes API server is unreachable"),
    ("object-storage", "BucketErrorsHigh", "{id}: 5xx on 30% of GET requests"),
    ("kafka", "KafkaBrokerOffline", "{id}: broker offline, under-replicated partitions"),
    ("etcd", "EtcdNoLeader", "{id}: member has no leader"),
    ("", "ServiceCrashLooping", "{id}: pods in CrashLoopBackOff, 0 of 3 ready"),
)
SYMPTOM_ALERTS: Final = (
    ("HighErrorRate", "{id}: {pct}% of requests fail"),
    ("LatencyP99High", "{id}: p99 latency {ms} ms (SLO 300 ms)"),
    ("UpstreamUnavailable", "{id}: calls to {root} fail with UNAVAILABLE"),
    ("SLOBurnRateHigh", "{id}: error budget burning at {burn}x"),
)
INFO_ALERTS: Final = (
    ("CertificateExpiringSoon", "{id}: TLS certificate expires in 21 days"),
    ("PodRestarted", "{id}: a pod restarted once in the last hour"),
    ("DeploymentRolledOut", "{id}: new version rolled out"),
)
NOISE: Final = (
    {"alertname": "NodeClockSkewDetected", "instance": "bastion-{n}.corp.example:9100",
     "job": "node-legacy", "severity": "warning"},
    {"alertname": "CronJobFailed", "cronjob": "nightly-report-{n}", "namespace": "batch",
     "severity": "warning"},
    {"alertname": "PrinterTonerLow", "instance": "printer-{n}.office.example",
     "severity": "info"},
    {"alertname": "VPNTunnelFlapping", "tunnel": "office-{n}-to-dc", "severity": "warning"},
    {"alertname": "CertManagerCertNotReady", "certificate": "legacy-{n}-tls",
     "namespace": "legacy", "severity": "warning"},
    {"alertname": "DiskSpaceLow", "instance": "build-agent-{n}.ci.example:9100",
     "mountpoint": "/var/lib/docker", "severity": "warning"},
)  # fmt: skip
HEARTBEAT_LABELS: Final = {
    "alertname": "Watchdog",
    "severity": "none",
    "prometheus": "monitoring/k8s",
}
ZERO_TIME: Final = "0001-01-01T00:00:00Z"
CLOUD_KINDS: Final = ("load-balancer", "object-storage", "cdn", "bucket")


# -- identity: which labels name a component ---------------------------------------------------


def digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def pod_suffix(component: str) -> str:
    d = digest("pod", component)
    letters = "bcdfghjklmnpqrstvwxz2456789"
    tail = "".join(letters[int(d[i : i + 2], 16) % len(letters)] for i in range(0, 10, 2))
    return f"{d[10:19]}-{tail}"


def instantiate(pattern: str, component: str) -> str:
    """A concrete value matching a `match` glob: `frontend-*` → `frontend-5f9c7d6b4-x2x9q`."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            before = pattern[i - 1] if i else ""
            if before == "-":
                out.append(pod_suffix(component))
            elif before == "/":
                out.append(digest("id", component)[:16])
            elif before.isalpha():
                out.append("Down")
            else:
                out.append("1")
        elif ch == "?":
            out.append("a")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(ch)
            else:
                chars = pattern[i + 1 : end].lstrip("!^")
                out.append(chars[:1] or "a")
                i = end
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def kind_word(node: Node) -> str:
    return node.kind.lower() if node.kind else "service"


def identities(node: Node) -> list[dict[str, str]]:
    """Label sets that should map to `node`, most natural first (checked later)."""
    cid = node.id
    options: list[dict[str, str]] = []
    for selector in node.match:
        options.append({label: instantiate(glob, cid) for label, glob in selector})
    kind = kind_word(node)
    if kind in ("host", "node", "switch"):
        options.append({"instance": f"{cid}.prod.internal:9100", "job": "node"})
        options.extend({"instance": f"{alias}:9100", "job": "node"} for alias in node.aliases)
        options.append({"node": cid})
    elif kind in ("database", "cache", "etcd", "kafka-broker", "search-cluster", "hsm"):
        port = {"database": 9187, "cache": 9121}.get(kind, 9100)
        options.append({"instance": f"{cid}.db.prod.internal:{port}", "job": f"{kind}-exporter"})
        options.append({"service": cid})
    else:
        options.append({"service": cid, "namespace": "prod"})
        options.append({"pod": f"{cid}-{pod_suffix(cid)}", "namespace": "prod"})
        options.append({"app": cid})
    options.extend({"service": alias} for alias in node.aliases)
    options.append({"component": cid})
    return options


class Identity:
    """Finds, for each component, label sets the topology's matcher maps to it."""

    def __init__(self, topology: Topology) -> None:
        self.matcher = Matcher(topology)
        self.options = {node.id: identities(node) for node in topology.components}

    def maps(self, labels: Mapping[str, str], component: str | None) -> bool:
        return self.matcher.match(labels).component == component

    def labels(
        self, rng: random.Random, component: str, extra: Mapping[str, str]
    ) -> dict[str, str] | None:
        """`extra` plus identity labels of `component`, verified; None if nothing works."""
        options = self.options[component]
        first = rng.randrange(len(options))
        for option in [*options[first:], *options[:first]]:
            labels = {**extra, **option}
            if self.maps(labels, component):
                return labels
        return None


# -- the simulated world -----------------------------------------------------------------------


@dataclass(slots=True)
class SimAlert:
    fingerprint: str
    component: str | None
    labels: dict[str, str]
    summary: str
    severity: str
    via: Via
    group: str = ""
    starts_at: Millis = 0
    ends_at: Millis | None = None
    firing: bool = False
    notified_resolved: bool = True
    kind: PayloadKind = "episode"
    root: bool = False


@dataclass(slots=True)
class Group:
    """An Alertmanager or Grafana notification group (one receiver, one group key)."""

    key: str
    via: Via
    receiver: str
    group_labels: dict[str, str]
    alerts: dict[str, SimAlert] = field(default_factory=dict)


@dataclass(order=True, slots=True)
class Action:
    slot: int
    order: int
    what: str = field(compare=False)
    alert: SimAlert | None = field(default=None, compare=False)


class World:
    def __init__(self, topology: Topology, seed: int, start: Millis, rate: float) -> None:
        self.topology = topology
        self.rng = random.Random(f"correlator-simulate:{seed}")
        self.start = start
        self.slot_ms = 1000.0 / rate
        self.identity = Identity(topology)
        self.groups: dict[str, Group] = {}
        self.pager: dict[str, SimAlert] = {}  # active PagerDuty/Opsgenie/CloudWatch alerts
        self.queue: list[Action] = []
        self.counter = 0
        self.busy: set[str] = set()  # components that are root causes right now
        self.routing_key = digest("routing", seed)[:32]
        self.account = str(100000000000 + int(digest("account", seed)[:10], 16) % 10**11)
        self.roots = self._root_candidates()

    # time and scheduling

    def time(self, slot: int) -> Millis:
        return self.start + round(slot * self.slot_ms)

    def event_time(self, slot: int) -> Millis:
        """When the alert happened: a little before it was received."""
        return self.time(slot) - min(400, round(self.slot_ms / 2))

    def schedule(self, slot: int, what: str, alert: SimAlert | None = None) -> None:
        self.counter += 1
        heapq.heappush(self.queue, Action(slot, self.counter, what, alert))

    # choices

    def _root_candidates(self) -> list[str]:
        """Components whose failure reaches a business service (they open incidents)."""
        topo = self.topology
        out = []
        for node in topo.components:
            reach = topo.upstream([node.id])
            if any(topo.nodes[n].role == "business_service" for n in reach):
                out.append(node.id)
        return out

    def symptoms_of(self, root: str, count: int) -> list[str]:
        """The components that depend on `root`, nearest first."""
        topo = self.topology
        seen = {root}
        frontier = [root]
        found: list[str] = []
        while frontier and len(found) < count:
            nxt: list[str] = []
            for node_id in frontier:
                for dep in topo.dependents.get(node_id, ()):
                    if dep not in seen and topo.nodes[dep].role == "component":
                        seen.add(dep)
                        nxt.append(dep)
            self.rng.shuffle(nxt)
            found.extend(nxt[: count - len(found)])
            frontier = nxt
        return found

    def new_alert(
        self, component: str | None, alertname: str, summary: str, severity: str, via: Via,
        labels: Mapping[str, str] | None = None,
    ) -> SimAlert | None:  # fmt: skip
        if labels is None:
            if component is None:
                return None
            extra = {"alertname": alertname, "severity": severity}
            found = self.identity.labels(self.rng, component, extra)
            if found is None:
                return None
            labels = found
        fingerprint = digest("fp", sorted(labels.items()))[:16]
        return SimAlert(fingerprint, component, dict(labels), summary, severity, via)


def root_text(node: Node) -> tuple[str, str]:
    kind = kind_word(node)
    for word, name, text in ROOT_ALERTS:
        if word and word in kind:
            return name, text.format(id=node.id)
    return ROOT_ALERTS[-1][1], ROOT_ALERTS[-1][2].format(id=node.id)
