"""Simulated alert storms in the real payload formats, against a topology (DESIGN §7).

`simulate(topology, seed=…, start=…)` is a pure, deterministic, endless iterator of payloads:
the same topology, seed, start and rate always give the same payloads. Nothing here reads the
clock or does I/O; `correlator simulate` paces the payloads in wall time and sends them to
`alerts.raw` (or writes them as JSONL for `correlator replay`).

Time runs in *slots*: payload `i` is received at `start + i / rate` seconds, so the rate changes
the timestamps, never the sequence. An episode is a root cause and what it drags down:

- the root cause fires (Alertmanager mostly; PagerDuty v2, CloudWatch via SNS or Opsgenie too),
- symptom alerts fire on the components that depend on it, nearest first (Alertmanager and
  Grafana groups),
- every notification of a group carries all its alerts, so firing alerts repeat each time the
  group is sent again (Alertmanager's group_interval; PagerDuty triggers are re-sent too),
- a symptom may flap (resolve, fire again, twice), a human acknowledges PagerDuty/Opsgenie,
- the root recovers, then its symptoms.

Around the episodes: unmapped noise (labels that match no component), info alerts, a Watchdog
heartbeat, and a few malformed payloads (invalid JSON, wrong types, unknown shapes, clock skew).
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import orjson

from correlator.core.matching import Matcher
from correlator.core.timefmt import HOUR, Millis, format_time
from correlator.core.topology import Node, Topology

SCENARIOS: Final = {
    "storm": "one episode after another (some overlapping), all formats, noise, malformed input",
    "outage": "one root cause with symptoms, repeats, flapping and a recovery, then background",
    "flapping": "a root cause that fails and recovers again and again (reopened incidents)",
    "noise": "background only: unmapped and info alerts, heartbeats, malformed payloads",
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

    def envelope(self) -> dict[str, Any]:
        """The record value on `alerts.raw`, as the ingress writes it."""
        return {"received_at": format_time(self.at), "format": None, "payload": self.payload}

    def to_json(self) -> bytes:
        return orjson.dumps(self.envelope())


# -- alert texts -----------------------------------------------------------------------------

_ROOT_ALERTS: Final = (
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
_SYMPTOM_ALERTS: Final = (
    ("HighErrorRate", "{id}: {pct}% of requests fail"),
    ("LatencyP99High", "{id}: p99 latency {ms} ms (SLO 300 ms)"),
    ("UpstreamUnavailable", "{id}: calls to {root} fail with UNAVAILABLE"),
    ("SLOBurnRateHigh", "{id}: error budget burning at {burn}x"),
)
_INFO_ALERTS: Final = (
    ("CertificateExpiringSoon", "{id}: TLS certificate expires in 21 days"),
    ("PodRestarted", "{id}: a pod restarted once in the last hour"),
    ("DeploymentRolledOut", "{id}: new version rolled out"),
)
_NOISE: Final = (
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
_HEARTBEAT_LABELS: Final = {
    "alertname": "Watchdog",
    "severity": "none",
    "prometheus": "monitoring/k8s",
}
_ZERO_TIME: Final = "0001-01-01T00:00:00Z"
_CLOUD_KINDS: Final = ("load-balancer", "object-storage", "cdn", "bucket")


# -- identity: which labels name a component ---------------------------------------------------


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def _pod_suffix(component: str) -> str:
    d = _digest("pod", component)
    letters = "bcdfghjklmnpqrstvwxz2456789"
    tail = "".join(letters[int(d[i : i + 2], 16) % len(letters)] for i in range(0, 10, 2))
    return f"{d[10:19]}-{tail}"


def _instantiate(pattern: str, component: str) -> str:
    """A concrete value matching a `match` glob: `frontend-*` → `frontend-5f9c7d6b4-x2x9q`."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            before = pattern[i - 1] if i else ""
            if before == "-":
                out.append(_pod_suffix(component))
            elif before == "/":
                out.append(_digest("id", component)[:16])
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


def _kind_word(node: Node) -> str:
    return node.kind.lower() if node.kind else "service"


def _identities(node: Node) -> list[dict[str, str]]:
    """Label sets that should map to `node`, most natural first (checked later)."""
    cid = node.id
    options: list[dict[str, str]] = []
    for selector in node.match:
        options.append({label: _instantiate(glob, cid) for label, glob in selector})
    kind = _kind_word(node)
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
        options.append({"pod": f"{cid}-{_pod_suffix(cid)}", "namespace": "prod"})
        options.append({"app": cid})
    options.extend({"service": alias} for alias in node.aliases)
    options.append({"component": cid})
    return options


class _Identity:
    """Finds, for each component, label sets the topology's matcher maps to it."""

    def __init__(self, topology: Topology) -> None:
        self.matcher = Matcher(topology)
        self.options = {node.id: _identities(node) for node in topology.components}

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
class _Alert:
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
class _Group:
    """An Alertmanager or Grafana notification group (one receiver, one group key)."""

    key: str
    via: Via
    receiver: str
    group_labels: dict[str, str]
    alerts: dict[str, _Alert] = field(default_factory=dict)


@dataclass(order=True, slots=True)
class _Action:
    slot: int
    order: int
    what: str = field(compare=False)
    alert: _Alert | None = field(default=None, compare=False)


class _World:
    def __init__(self, topology: Topology, seed: int, start: Millis, rate: float) -> None:
        self.topology = topology
        self.rng = random.Random(f"correlator-simulate:{seed}")
        self.start = start
        self.slot_ms = 1000.0 / rate
        self.identity = _Identity(topology)
        self.groups: dict[str, _Group] = {}
        self.pager: dict[str, _Alert] = {}  # active PagerDuty/Opsgenie/CloudWatch alerts
        self.queue: list[_Action] = []
        self.counter = 0
        self.busy: set[str] = set()  # components that are root causes right now
        self.routing_key = _digest("routing", seed)[:32]
        self.account = str(100000000000 + int(_digest("account", seed)[:10], 16) % 10**11)
        self.roots = self._root_candidates()

    # time and scheduling

    def time(self, slot: int) -> Millis:
        return self.start + round(slot * self.slot_ms)

    def event_time(self, slot: int) -> Millis:
        """When the alert happened: a little before it was received."""
        return self.time(slot) - min(400, round(self.slot_ms / 2))

    def schedule(self, slot: int, what: str, alert: _Alert | None = None) -> None:
        self.counter += 1
        heapq.heappush(self.queue, _Action(slot, self.counter, what, alert))

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
    ) -> _Alert | None:  # fmt: skip
        if labels is None:
            if component is None:
                return None
            extra = {"alertname": alertname, "severity": severity}
            found = self.identity.labels(self.rng, component, extra)
            if found is None:
                return None
            labels = found
        fingerprint = _digest("fp", sorted(labels.items()))[:16]
        return _Alert(fingerprint, component, dict(labels), summary, severity, via)


def _root_text(node: Node) -> tuple[str, str]:
    kind = _kind_word(node)
    for word, name, text in _ROOT_ALERTS:
        if word and word in kind:
            return name, text.format(id=node.id)
    return _ROOT_ALERTS[-1][1], _ROOT_ALERTS[-1][2].format(id=node.id)


# -- payload builders (the real formats) -------------------------------------------------------


def _am_alert(alert: _Alert, grafana: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "status": "firing" if alert.firing else "resolved",
        "labels": dict(alert.labels),
        "annotations": {"summary": alert.summary},
        "startsAt": format_time(alert.starts_at),
        "endsAt": _ZERO_TIME if alert.ends_at is None else format_time(alert.ends_at),
        "generatorURL": "http://prometheus.prod.internal:9090/graph?g0.expr="
        + alert.labels.get("alertname", "up"),
        "fingerprint": alert.fingerprint,
    }
    if grafana:
        item["generatorURL"] = f"https://grafana.prod.internal/alerting/{alert.fingerprint}/edit"
        item["silenceURL"] = (
            f"https://grafana.prod.internal/alerting/silence/new?alertmanager=grafana"
            f"&matcher=alertname%3D{alert.labels.get('alertname', '')}"
        )
        item["dashboardURL"] = ""
        item["panelURL"] = ""
        item["values"] = {"B": 42.5, "C": 1}
    return item


def _group_payload(group: _Group, alerts: Sequence[_Alert]) -> dict[str, Any]:
    grafana = group.via == "grafana"
    items = [_am_alert(a, grafana) for a in alerts]
    firing = sum(1 for a in alerts if a.firing)
    common = dict(alerts[0].labels)
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a.labels.get(k) == v}
    payload: dict[str, Any] = {
        "receiver": group.receiver,
        "status": "firing" if firing else "resolved",
        "alerts": items,
        "groupLabels": dict(group.group_labels),
        "commonLabels": common,
        "commonAnnotations": {"summary": alerts[0].summary} if len(alerts) == 1 else {},
        "externalURL": "http://alertmanager.prod.internal:9093",
        "version": "4",
        "groupKey": group.key,
        "truncatedAlerts": 0,
    }
    if grafana:
        payload["orgId"] = 1
        payload["version"] = "1"
        payload["externalURL"] = "https://grafana.prod.internal/"
        payload["state"] = "alerting" if firing else "ok"
        payload["title"] = f"[{'FIRING' if firing else 'RESOLVED'}:{len(alerts)}] {group.receiver}"
        payload["message"] = "\n".join(a.summary for a in alerts)
    return payload


def _pd_trigger(alert: _Alert, routing_key: str, at: Millis) -> dict[str, Any]:
    labels = alert.labels
    details = {k: v for k, v in labels.items() if k not in ("host", "component", "group", "class")}
    payload: dict[str, Any] = {
        "summary": alert.summary,
        "timestamp": format_time(at),
        "source": labels.get("host", "synthetics.prod.internal"),
        "severity": alert.severity if alert.severity != "warning" else "warning",
        "custom_details": details,
    }
    for key in ("component", "group", "class"):
        if key in labels:
            payload[key] = labels[key]
    return {
        "payload": payload,
        "routing_key": routing_key,
        "dedup_key": alert.fingerprint,
        "event_action": "trigger",
        "client": "Synthetic checks",
        "client_url": "https://synthetics.prod.internal/checks",
    }


def _pd_labels(identity: Mapping[str, str], alertname: str) -> dict[str, str]:
    """The labels the PagerDuty adapter will derive from our trigger (for the check)."""
    labels = {k: v for k, v in identity.items() if k not in ("host",)}
    labels["check"] = alertname
    labels["host"] = identity.get("host", "synthetics.prod.internal")
    return labels


def _cw_alarm(alert: _Alert, state: str, at: Millis, account: str) -> dict[str, Any]:
    dims = [
        {"value": v, "name": k}
        for k, v in alert.labels.items()
        if k not in ("alarm", "namespace", "region", "account")
    ]
    name = alert.labels.get("alarm", alert.fingerprint)
    changed = format_time(at).replace("Z", "+0000")
    return {
        "AlarmName": name,
        "AlarmDescription": alert.summary,
        "AWSAccountId": account,
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 3 out of the last 3 datapoints were greater than "
        "the threshold (5.0)."
        if state == "ALARM"
        else "Threshold Crossed: 3 datapoints were not greater than the threshold (5.0).",
        "StateChangeTime": changed,
        "Region": "EU (Ireland)",
        "AlarmArn": f"arn:aws:cloudwatch:eu-west-1:{account}:alarm:{name}",
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "Trigger": {
            "MetricName": "HTTPCode_Target_5XX_Count",
            "Namespace": alert.labels.get("namespace", "AWS/ApplicationELB"),
            "StatisticType": "Statistic",
            "Statistic": "SUM",
            "Unit": None,
            "Dimensions": dims,
            "Period": 60,
            "EvaluationPeriods": 3,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 5.0,
            "TreatMissingData": "missing",
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def _sns(alarm: dict[str, Any], at: Millis, message_id: str, lambda_shape: bool) -> dict[str, Any]:
    topic = f"arn:aws:sns:eu-west-1:{alarm['AWSAccountId']}:correlator-alarms"
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic,
        "Subject": f'{alarm["NewStateValue"]}: "{alarm["AlarmName"]}" in EU (Ireland)'[:100],
        "Message": orjson.dumps(alarm).decode(),
        "Timestamp": format_time(at),
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService.pem",
        "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }
    if not lambda_shape:
        return envelope
    envelope["MessageAttributes"] = {}
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:{message_id}",
                "Sns": envelope,
            }
        ]
    }


def _cw_labels(identity: Mapping[str, str], alarm: str, account: str) -> dict[str, str]:
    labels = dict(identity)
    labels["alarm"] = alarm
    labels["namespace"] = "AWS/ApplicationELB"
    labels["region"] = "EU (Ireland)"
    labels["account"] = account
    return labels


def _og_payload(alert: _Alert, action: str, at: Millis, alert_id: str) -> dict[str, Any]:
    tags = [f"{k}:{v}" for k, v in alert.labels.items() if k not in ("entity", "source")]
    priority = {"critical": "P1", "warning": "P3"}.get(alert.severity, "P5")
    return {
        "source": {"name": "prometheus", "type": "API"},
        "alert": {
            "updatedAt": at * 1_000_000,
            "tags": tags,
            "teams": ["sre"],
            "recipients": ["sre-oncall"],
            "message": alert.summary,
            "username": "System",
            "alertId": alert_id,
            "source": alert.labels.get("source", "prometheus"),
            "alias": alert.fingerprint,
            "tinyId": str(int(alert_id[:4], 16) % 1000),
            "createdAt": alert.starts_at,
            "userId": alert_id,
            "entity": alert.labels.get("entity", ""),
            "priority": priority,
        },
        "action": action,
        "integrationId": "5e1f2c7a-8d3b-4f6e-9a0b-1c2d3e4f5a6b",
        "integrationName": "Prometheus",
    }


def _og_labels(identity: Mapping[str, str]) -> dict[str, str]:
    labels = dict(identity)
    labels["source"] = "prometheus"
    return labels


# -- the director --------------------------------------------------------------------------------

_MALFORMED_KINDS: Final = (
    "truncated",
    "alerts-not-array",
    "label-not-string",
    "pagerduty-bad-severity",
    "unknown-shape",
    "clock-skew",
    "sns-text-message",
)


class _Director(_World):
    """Decides what each slot sends: a due action (episode steps, heartbeat, malformed input)
    or, when nothing is due, a filler (a group re-sent, noise, an info alert)."""

    def __init__(
        self, topology: Topology, seed: int, start: Millis, rate: float, scenario: str
    ) -> None:
        super().__init__(topology, seed, start, rate)
        self.scenario = scenario
        self.heartbeat_every = max(1, min(60, int(60 * rate)))
        self.episodes = 0
        self.malformed = 0
        self.malformed_order = list(_MALFORMED_KINDS)
        self.rng.shuffle(self.malformed_order)
        self.watchdog: _Alert | None = None
        self.flapping: _Alert | None = None

    def run(self) -> Iterator[SimPayload]:
        rng = self.rng
        self.schedule(0, "heartbeat")
        self.schedule(rng.randint(15, 40), "malformed")
        if self.scenario == "storm":
            self.schedule(rng.randint(2, 8), "episode")
        elif self.scenario == "outage":
            self.schedule(rng.randint(2, 8), "outage")
        elif self.scenario == "flapping":
            self.schedule(rng.randint(2, 8), "flapping")
        slot = 0
        while True:
            produced: SimPayload | None = None
            while produced is None and self.queue and self.queue[0].slot <= slot:
                produced = self.perform(heapq.heappop(self.queue), slot)
            if produced is None:
                produced = self.filler(slot)
            yield produced
            slot += 1

    # actions

    def perform(self, action: _Action, slot: int) -> SimPayload | None:
        what, alert = action.what, action.alert
        if what == "heartbeat":
            self.schedule(slot + self.heartbeat_every, "heartbeat")
            return self.heartbeat(slot)
        if what == "malformed":
            self.schedule(slot + self.rng.randint(80, 200), "malformed")
            return self.malformed_payload(slot)
        if what in ("episode", "episode-extra", "outage"):
            return self.start_episode(slot, what)
        if what == "flapping":
            return self.flap(slot)
        assert alert is not None
        if what == "fire":
            return self.fire(alert, slot)
        if what == "resolve":
            return self.resolve(alert, slot)
        if what == "ack":
            return self.ack(alert, slot)
        raise AssertionError(what)

    def choose_via(self, node: Node) -> Via:
        cloudy = _kind_word(node) in _CLOUD_KINDS or any(
            label[:1].isupper() for selector in node.match for label, _ in selector
        )
        r = self.rng.random()
        if cloudy:
            return "cloudwatch" if r < 0.6 else "alertmanager"
        if r < 0.55:
            return "alertmanager"
        if r < 0.75:
            return "pagerduty"
        if r < 0.9:
            return "opsgenie"
        return "cloudwatch"

    def make(
        self, component: str, alertname: str, summary: str, severity: str, via: Via,
        kind: PayloadKind = "episode",
    ) -> _Alert | None:  # fmt: skip
        alert: _Alert | None = None
        if via in ("pagerduty", "cloudwatch", "opsgenie"):
            identity = self.identity.labels(self.rng, component, {})
            if identity is not None:
                if via == "pagerduty":
                    predicted = _pd_labels(identity, alertname)
                elif via == "cloudwatch":
                    predicted = _cw_labels(identity, f"{component}-{alertname}", self.account)
                else:
                    predicted = _og_labels(identity)
                if self.identity.maps(predicted, component):
                    alert = self.new_alert(component, alertname, summary, severity, via, predicted)
            if alert is None:
                via = "alertmanager"
        if alert is None:
            alert = self.new_alert(component, alertname, summary, severity, via)
        if alert is not None:
            alert.kind = kind
            if via in ("alertmanager", "grafana"):
                alert.group = self.group_for(via, alertname).key
        return alert

    def group_for(self, via: Via, alertname: str) -> _Group:
        key = f'{{}}/{{severity=~"critical|warning|info"}}:{{alertname="{alertname}"}}'
        group_id = f"{via}:{key}"
        group = self.groups.get(group_id)
        if group is None:
            receiver = "correlator" if via == "alertmanager" else "correlator-webhook"
            group = _Group(key, via, receiver, {"alertname": alertname})
            self.groups[group_id] = group
        return group

    def start_episode(self, slot: int, what: str) -> SimPayload | None:
        rng = self.rng
        free = [c for c in self.roots if c not in self.busy]
        if not free:
            if what == "episode":
                self.schedule(slot + 20, "episode")
            return None
        self.episodes += 1
        root = rng.choice(free)
        node = self.topology.nodes[root]
        name, text = _root_text(node)
        alert = self.make(root, name, text, "critical", self.choose_via(node))
        if alert is None:
            self.schedule(slot + 1, what)
            return None
        alert.root = True
        self.busy.add(root)
        length = 300 if what == "outage" else rng.randint(80, 160)
        symptoms = self.symptoms_of(root, rng.randint(2, 4))
        flapper = rng.randrange(len(symptoms)) if symptoms and (
            what == "outage" or rng.random() < 0.5
        ) else -1  # fmt: skip
        for k, component in enumerate(symptoms):
            sname, stext = rng.choice(_SYMPTOM_ALERTS)
            summary = stext.format(
                id=component,
                pct=rng.randint(5, 60),
                ms=rng.randint(800, 5000),
                root=root,
                burn=rng.randint(6, 40),
            )
            severity = "critical" if rng.random() < 0.3 else "warning"
            via: Via = "grafana" if rng.random() < 0.25 else "alertmanager"
            symptom = self.make(component, sname, summary, severity, via)
            if symptom is None:
                continue
            self.schedule(slot + 2 + 3 * k + rng.randint(0, 3), "fire", symptom)
            if k == flapper:
                for offset, step in ((20, "resolve"), (26, "fire"), (34, "resolve"), (40, "fire")):
                    self.schedule(slot + offset, step, symptom)
            self.schedule(slot + length + 2 + rng.randint(0, 8), "resolve", symptom)
        if alert.via in ("pagerduty", "opsgenie"):
            self.schedule(slot + 15, "ack", alert)
        self.schedule(slot + length, "resolve", alert)
        if what == "episode":
            self.schedule(slot + length + rng.randint(10, 40), "episode")
            if rng.random() < 0.3:
                self.schedule(slot + rng.randint(30, 60), "episode-extra")
        return self.fire(alert, slot)

    def flap(self, slot: int) -> SimPayload | None:
        """One cycle of a flapping root cause: down for a while, then up for a while."""
        rng = self.rng
        if self.flapping is None:
            if not self.roots:
                return None
            root = rng.choice(self.roots)
            name, text = _root_text(self.topology.nodes[root])
            self.flapping = self.make(root, name, text, "critical", "alertmanager")
        alert = self.flapping
        if alert is None:
            return None
        down = rng.randint(10, 25)
        self.schedule(slot + down, "resolve", alert)
        self.schedule(slot + down + rng.randint(8, 20), "flapping")
        return self.fire(alert, slot)

    # the alert's life, in its own format

    def fire(self, alert: _Alert, slot: int) -> SimPayload:
        at = self.time(slot)
        alert.firing = True
        alert.starts_at = self.event_time(slot)
        alert.ends_at = None
        alert.notified_resolved = True
        if alert.root:
            self.busy.add(alert.component or "")
        if alert.via in ("alertmanager", "grafana"):
            group = self.groups_by_key(alert)
            group.alerts[alert.fingerprint] = alert
            return self.notify(group, slot, alert.kind)
        expected = (alert.component,)
        if alert.via == "pagerduty":
            self.pager[alert.fingerprint] = alert
            body = _pd_trigger(alert, self.routing_key, alert.starts_at)
            return SimPayload(at, alert.kind, "pagerduty", alert.fingerprint, body, expected)
        if alert.via == "cloudwatch":
            alarm = _cw_alarm(alert, "ALARM", alert.starts_at, self.account)
            body = _sns(alarm, at, self.uuid(), self.rng.random() < 0.5)
            return SimPayload(at, alert.kind, "cloudwatch", alert.fingerprint, body, expected)
        body = _og_payload(alert, "Create", alert.starts_at, self.uuid())
        return SimPayload(at, alert.kind, "opsgenie", alert.fingerprint, body, expected)

    def resolve(self, alert: _Alert, slot: int) -> SimPayload | None:
        if not alert.firing:
            return None
        at = self.time(slot)
        alert.firing = False
        alert.ends_at = self.event_time(slot)
        if alert.root:
            self.busy.discard(alert.component or "")
        if alert.via in ("alertmanager", "grafana"):
            alert.notified_resolved = False
            group = self.groups_by_key(alert)
            group.alerts[alert.fingerprint] = alert
            return self.notify(group, slot, alert.kind)
        expected = (alert.component,)
        if alert.via == "pagerduty":
            self.pager.pop(alert.fingerprint, None)
            body = {
                "routing_key": self.routing_key,
                "dedup_key": alert.fingerprint,
                "event_action": "resolve",
            }
            return SimPayload(at, alert.kind, "pagerduty", alert.fingerprint, body, expected)
        if alert.via == "cloudwatch":
            alarm = _cw_alarm(alert, "OK", alert.ends_at, self.account)
            body = _sns(alarm, at, self.uuid(), self.rng.random() < 0.5)
            return SimPayload(at, alert.kind, "cloudwatch", alert.fingerprint, body, expected)
        body = _og_payload(alert, "Close", alert.ends_at, self.uuid())
        return SimPayload(at, alert.kind, "opsgenie", alert.fingerprint, body, expected)

    def ack(self, alert: _Alert, slot: int) -> SimPayload | None:
        if not alert.firing:
            return None
        at = self.time(slot)
        if alert.via == "pagerduty":
            body = {
                "routing_key": self.routing_key,
                "dedup_key": alert.fingerprint,
                "event_action": "acknowledge",
            }
            return SimPayload(at, "episode", "pagerduty", alert.fingerprint, body)
        body = _og_payload(alert, "Acknowledge", self.event_time(slot), self.uuid())
        return SimPayload(at, "episode", "opsgenie", alert.fingerprint, body)

    def groups_by_key(self, alert: _Alert) -> _Group:
        return self.group_for(alert.via, alert.labels.get("alertname", ""))

    def notify(self, group: _Group, slot: int, kind: PayloadKind) -> SimPayload:
        """Send the group with all its alerts: firing ones, and those resolved since the last
        notification (sent once, then dropped, as Alertmanager does)."""
        alerts = [a for a in group.alerts.values() if a.firing or not a.notified_resolved]
        for a in alerts:
            if not a.firing:
                a.notified_resolved = True
                del group.alerts[a.fingerprint]
        body = _group_payload(group, alerts)
        expected = tuple(a.component for a in alerts)
        return SimPayload(self.time(slot), kind, group.via, group.key, body, expected)

    def heartbeat(self, slot: int) -> SimPayload:
        # Re-created now and then: an alert older than 24 h would be an invalid event time.
        w = self.watchdog
        if w is None or self.event_time(slot) - w.starts_at > 12 * HOUR:
            w = _Alert(
                fingerprint=_digest("watchdog", self.routing_key)[:16],
                component=None,
                labels=dict(_HEARTBEAT_LABELS),
                summary="An alert that should always be firing to certify that Alertmanager "
                "is working properly.",
                severity="none",
                via="alertmanager",
                kind="heartbeat",
            )
            w.firing = True
            w.starts_at = self.event_time(slot)
            self.watchdog = w
        group = _Group(
            '{}:{alertname="Watchdog"}', "alertmanager", "heartbeat", {"alertname": "Watchdog"}
        )
        group.alerts[w.fingerprint] = w
        return self.notify(group, slot, "heartbeat")

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"

    # fillers

    def filler(self, slot: int) -> SimPayload:
        rng = self.rng
        r = rng.random()
        firing = [g for g in self.groups.values() if any(a.firing for a in g.alerts.values())]
        if r < 0.62 and firing:
            return self.notify(rng.choice(firing), slot, "repeat")
        if r < 0.7 and self.pager:
            alert = self.pager[rng.choice(sorted(self.pager))]
            body = _pd_trigger(alert, self.routing_key, self.event_time(slot))
            return SimPayload(
                self.time(slot), "repeat", "pagerduty", alert.fingerprint, body, (alert.component,)
            )
        if r < 0.8:
            noise = self.noise_alert()
            if noise is not None:
                self.schedule(slot + rng.randint(20, 80), "resolve", noise)
                return self.fire(noise, slot)
        info = self.info_alert()
        if info is not None:
            self.schedule(slot + rng.randint(20, 80), "resolve", info)
            return self.fire(info, slot)
        return self.heartbeat(slot)

    def noise_alert(self) -> _Alert | None:
        rng = self.rng
        for _ in range(4):
            template = rng.choice(_NOISE)
            n = rng.randint(1, 40)
            labels = {k: v.format(n=n) for k, v in template.items()}
            if not self.identity.maps(labels, None):
                continue
            via: Via = rng.choice(("alertmanager", "alertmanager", "grafana", "opsgenie"))
            summary = f"{labels['alertname']} on {next(iter(list(labels.values())[1:]), '?')}"
            if via == "opsgenie":
                og = _og_labels(labels)
                if not self.identity.maps(og, None):
                    continue
                alert = self.new_alert(None, labels["alertname"], summary, "warning", via, og)
            else:
                alert = self.new_alert(None, "", summary, labels["severity"], via, labels)
            if alert is None:
                continue
            alert.kind = "unmapped"
            if via != "opsgenie":
                alert.group = self.group_for(via, labels["alertname"]).key
            return alert
        return None

    def info_alert(self) -> _Alert | None:
        components = [n.id for n in self.topology.components]
        if not components:
            return None
        component = self.rng.choice(components)
        name, text = self.rng.choice(_INFO_ALERTS)
        return self.make(component, name, text.format(id=component), "info", "alertmanager", "info")

    # malformed input

    def malformed_payload(self, slot: int) -> SimPayload:
        at = self.time(slot)
        kind = self.malformed_order[self.malformed % len(self.malformed_order)]
        self.malformed += 1
        n = self.malformed
        event = format_time(self.event_time(slot))
        alert = {
            "status": "firing",
            "labels": {"alertname": "DiskWillFillIn4Hours", "instance": f"nfs-{n}:9100"},
            "annotations": {"summary": "disk fills up"},
            "startsAt": event,
            "endsAt": _ZERO_TIME,
        }
        group = {
            "receiver": "correlator",
            "status": "firing",
            "alerts": [alert],
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.prod.internal:9093",
            "version": "4",
            "groupKey": "{}:{}",
        }
        body: Any
        if kind == "truncated":
            text = orjson.dumps(group).decode()
            body = text[: len(text) * 2 // 3]
        elif kind == "alerts-not-array":
            body = {**group, "alerts": alert}
        elif kind == "label-not-string":
            body = {
                **group,
                "alerts": [{**alert, "labels": {"alertname": "DiskFull", "disk": {"name": "sda"}}}],
            }
        elif kind == "pagerduty-bad-severity":
            body = {
                "routing_key": self.routing_key,
                "event_action": "trigger",
                "payload": {"summary": "disk full", "source": f"nfs-{n}", "severity": 3},
            }
        elif kind == "unknown-shape":
            body = {"text": f"Disk almost full on nfs-{n}", "level": "warn", "channel": "#ops"}
        elif kind == "clock-skew":
            skewed = format_time(self.event_time(slot) - 72 * HOUR)
            body = {**group, "alerts": [{**alert, "startsAt": skewed}]}
        else:
            body = {
                "Type": "Notification",
                "MessageId": self.uuid(),
                "TopicArn": f"arn:aws:sns:eu-west-1:{self.account}:correlator-alarms",
                "Message": 'ALARM: "nfs-disk" in EU (Ireland)',
                "Timestamp": format_time(at),
            }
        return SimPayload(at, "malformed", kind, f"malformed-{n}", body)


def simulate(
    topology: Topology,
    *,
    seed: int = 0,
    start: Millis,
    rate: float = 20.0,
    scenario: str = "storm",
) -> Iterator[SimPayload]:
    """Payloads of `scenario` against `topology`, endlessly; slice it (`itertools.islice`).

    Pure and deterministic: a function of (topology, seed, start, rate, scenario) only.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    if not rate > 0:
        raise ValueError(f"rate must be positive, got {rate}")
    return _Director(topology, seed, start, rate, scenario).run()
