"""The director: what each time slot of a simulation sends, and `simulate` itself."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any, Final

import orjson

from correlator.core.timefmt import HOUR, Millis, format_time
from correlator.core.topology import Node, Topology
from correlator.simulate.payloads import (
    cw_alarm,
    cw_labels,
    group_payload,
    og_labels,
    og_payload,
    pd_labels,
    pd_trigger,
    sns,
)
from correlator.simulate.story import ACT_SECONDS, cast_reach, choose_cast, down_reaches
from correlator.simulate.world import (
    CLOUD_KINDS,
    HEARTBEAT_LABELS,
    INFO_ALERTS,
    NOISE,
    SCENARIOS,
    SYMPTOM_ALERTS,
    ZERO_TIME,
    Action,
    Group,
    PayloadKind,
    SimAlert,
    SimPayload,
    Via,
    World,
    digest,
    kind_word,
    root_text,
)

# -- the director --------------------------------------------------------------------------------

MALFORMED_KINDS: Final = (
    "truncated",
    "alerts-not-array",
    "no-identity",
    "pagerduty-no-routing-key",
    "unknown-shape",
    "clock-skew",
    "sns-text-message",
)


class Director(World):
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
        self.malformed_order = list(MALFORMED_KINDS)
        self.rng.shuffle(self.malformed_order)
        self.watchdog: SimAlert | None = None
        self.flapping: SimAlert | None = None
        self.reaches: dict[str, frozenset[str]] | None = None
        """The story's root causes and their down-reaches (computed at its first act)."""
        self.acts: list[tuple[int, frozenset[str]]] = []
        """The story's acts still open: (slot they end, business services they reach)."""

    def slots(self, seconds: float) -> int:
        return max(1, round(seconds * 1000 / self.slot_ms))

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
        elif self.scenario == "story":
            self.schedule(self.slots(ACT_SECONDS["a_fires"]), "act")
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

    def perform(self, action: Action, slot: int) -> SimPayload | None:
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
        if what == "act":
            return self.act(slot)
        assert alert is not None
        if what == "fire":
            return self.fire(alert, slot)
        if what == "resolve":
            return self.resolve(alert, slot)
        if what == "ack":
            return self.ack(alert, slot)
        raise AssertionError(what)

    def choose_via(self, node: Node) -> Via:
        cloudy = kind_word(node) in CLOUD_KINDS or any(
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
    ) -> SimAlert | None:  # fmt: skip
        alert: SimAlert | None = None
        if via in ("pagerduty", "cloudwatch", "opsgenie"):
            identity = self.identity.labels(self.rng, component, {})
            if identity is not None:
                if via == "pagerduty":
                    predicted = pd_labels(identity, alertname)
                elif via == "cloudwatch":
                    predicted = cw_labels(identity, f"{component}-{alertname}", self.account)
                else:
                    predicted = og_labels(identity)
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

    def group_for(self, via: Via, alertname: str) -> Group:
        key = f'{{}}/{{severity=~"critical|warning|info"}}:{{alertname="{alertname}"}}'
        group_id = f"{via}:{key}"
        group = self.groups.get(group_id)
        if group is None:
            receiver = "correlator" if via == "alertmanager" else "correlator-webhook"
            group = Group(key, via, receiver, {"alertname": alertname})
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
        name, text = root_text(node)
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
            sname, stext = rng.choice(SYMPTOM_ALERTS)
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
            name, text = root_text(self.topology.nodes[root])
            self.flapping = self.make(root, name, text, "critical", "alertmanager")
        alert = self.flapping
        if alert is None:
            return None
        down = rng.randint(10, 25)
        self.schedule(slot + down, "resolve", alert)
        self.schedule(slot + down + rng.randint(8, 20), "flapping")
        return self.fire(alert, slot)

    def act(self, slot: int) -> SimPayload | None:
        """One act of the story (correlator/simulate/story.py): A now, B, C, recoveries."""
        if self.reaches is None:
            self.reaches = down_reaches(self.topology, self.roots)
        self.acts = [(end, reach) for end, reach in self.acts if end > slot]
        avoid = frozenset().union(*(reach for _, reach in self.acts))
        cast = choose_cast(self.reaches, self.rng, avoid)
        if cast is None:  # every root cause overlaps an open act: wait for it to resolve
            self.schedule(min(end for end, _ in self.acts) + self.slots(2), "act")
            return None
        first: SimPayload | None = None
        steps = (
            (cast.a, "a_fires", "a_recovers"),
            (cast.b, "b_fires", "b_recovers"),
            (cast.c, "c_fires", "c_recovers"),
        )
        end = slot
        for component, fires, recovers in steps:
            if component is None:
                continue
            node = self.topology.nodes[component]
            name, text = root_text(node)
            alert = self.make(component, name, text, "critical", self.choose_via(node))
            if alert is None:
                continue
            alert.root = True
            down_at = slot + self.slots(ACT_SECONDS[recovers])
            end = max(end, down_at)
            if fires == "a_fires":
                first = self.fire(alert, slot)
                for k, symptom_id in enumerate(self.symptoms_of(component, 2)):
                    sname, stext = self.rng.choice(SYMPTOM_ALERTS)
                    summary = stext.format(
                        id=symptom_id, pct=self.rng.randint(5, 60), ms=self.rng.randint(800, 5000),
                        root=component, burn=self.rng.randint(6, 40),
                    )  # fmt: skip
                    symptom = self.make(symptom_id, sname, summary, "warning", "alertmanager")
                    if symptom is not None:
                        self.schedule(slot + self.slots(2 + 3 * k), "fire", symptom)
                        self.schedule(down_at + self.slots(2), "resolve", symptom)
            else:
                self.schedule(slot + self.slots(ACT_SECONDS[fires]), "fire", alert)
            self.schedule(down_at, "resolve", alert)
        self.acts.append((end, cast_reach(cast, self.reaches)))
        self.schedule(slot + self.slots(ACT_SECONDS["next_act"]), "act")
        return first

    # the alert's life, in its own format

    def fire(self, alert: SimAlert, slot: int) -> SimPayload:
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
            body = pd_trigger(alert, self.routing_key, alert.starts_at)
            return SimPayload(at, alert.kind, "pagerduty", alert.fingerprint, body, expected)
        if alert.via == "cloudwatch":
            alarm = cw_alarm(alert, "ALARM", alert.starts_at, self.account)
            body = sns(alarm, at, self.uuid(), self.rng.random() < 0.5)
            return SimPayload(at, alert.kind, "cloudwatch", alert.fingerprint, body, expected)
        body = og_payload(alert, "Create", alert.starts_at, self.uuid())
        return SimPayload(at, alert.kind, "opsgenie", alert.fingerprint, body, expected)

    def resolve(self, alert: SimAlert, slot: int) -> SimPayload | None:
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
            alarm = cw_alarm(alert, "OK", alert.ends_at, self.account)
            body = sns(alarm, at, self.uuid(), self.rng.random() < 0.5)
            return SimPayload(at, alert.kind, "cloudwatch", alert.fingerprint, body, expected)
        body = og_payload(alert, "Close", alert.ends_at, self.uuid())
        return SimPayload(at, alert.kind, "opsgenie", alert.fingerprint, body, expected)

    def ack(self, alert: SimAlert, slot: int) -> SimPayload | None:
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
        body = og_payload(alert, "Acknowledge", self.event_time(slot), self.uuid())
        return SimPayload(at, "episode", "opsgenie", alert.fingerprint, body)

    def groups_by_key(self, alert: SimAlert) -> Group:
        return self.group_for(alert.via, alert.labels.get("alertname", ""))

    def notify(self, group: Group, slot: int, kind: PayloadKind) -> SimPayload:
        """Send the group with all its alerts: firing ones, and those resolved since the last
        notification (sent once, then dropped, as Alertmanager does)."""
        alerts = [a for a in group.alerts.values() if a.firing or not a.notified_resolved]
        for a in alerts:
            if not a.firing:
                a.notified_resolved = True
                del group.alerts[a.fingerprint]
        body = group_payload(group, alerts)
        expected = tuple(a.component for a in alerts)
        return SimPayload(self.time(slot), kind, group.via, group.key, body, expected)

    def heartbeat(self, slot: int) -> SimPayload:
        # Re-created now and then, as a restarted Prometheus would (an old startsAt is valid).
        w = self.watchdog
        if w is None or self.event_time(slot) - w.starts_at > 12 * HOUR:
            w = SimAlert(
                fingerprint=digest("watchdog", self.routing_key)[:16],
                component=None,
                labels=dict(HEARTBEAT_LABELS),
                summary="An alert that should always be firing to certify that Alertmanager "
                "is working properly.",
                severity="none",
                via="alertmanager",
                kind="heartbeat",
            )
            w.firing = True
            w.starts_at = self.event_time(slot)
            self.watchdog = w
        group = Group(
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
            body = pd_trigger(alert, self.routing_key, self.event_time(slot))
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

    def noise_alert(self) -> SimAlert | None:
        rng = self.rng
        for _ in range(4):
            template = rng.choice(NOISE)
            n = rng.randint(1, 40)
            labels = {k: v.format(n=n) for k, v in template.items()}
            if not self.identity.maps(labels, None):
                continue
            via: Via = rng.choice(("alertmanager", "alertmanager", "grafana", "opsgenie"))
            summary = f"{labels['alertname']} on {next(iter(list(labels.values())[1:]), '?')}"
            if via == "opsgenie":
                og = og_labels(labels)
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

    def info_alert(self) -> SimAlert | None:
        components = [n.id for n in self.topology.components]
        if not components:
            return None
        component = self.rng.choice(components)
        name, text = self.rng.choice(INFO_ALERTS)
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
            "endsAt": ZERO_TIME,
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
        elif kind == "no-identity":
            # Neither a fingerprint nor labels: nothing says what the alert is about.
            body = {**group, "alerts": [{**alert, "labels": "DiskFull on sda"}]}
        elif kind == "pagerduty-no-routing-key":
            body = {
                "event_action": "trigger",
                "payload": {"summary": "disk full", "source": f"nfs-{n}", "severity": "error"},
            }
        elif kind == "unknown-shape":
            body = {"text": f"Disk almost full on nfs-{n}", "level": "warn", "channel": "#ops"}
        elif kind == "clock-skew":
            # An old startsAt is valid (a long-firing alert re-sent); one from the future is not.
            skewed = format_time(at + 72 * HOUR)
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
    return Director(topology, seed, start, rate, scenario).run()
