"""Severity words and priorities, `alert_rules` of the topology (DESIGN §3, §4), and what the
engine does with them: overrides, heartbeats, and resolves counted by their labels."""

from __future__ import annotations

from typing import Any

import pytest

from correlator.core.alert_rules import AlertRule, apply_alert_rules
from correlator.core.alerts import Alert, normalise_severity
from correlator.core.engine import Engine
from correlator.core.incidents import StepResult
from correlator.errors import TopologyError
from correlator.topology_files import parse_topology_text
from tests.core.helpers import SEC, T0, topology

DOC: dict[str, Any] = {
    "apiVersion": "correlator/v1",
    "name": "rules",
    "segments": [{"id": "all", "customers": 100, "uses": ["shop"]}],
    "business_services": [{"id": "shop", "tier": 1, "depends_on": ["db", "web"]}],
    "components": [{"id": "db"}, {"id": "web"}],
    "alert_rules": [
        {"match": {"alertname": "Disk*Filling*"}, "severity": "warning"},
        {"match": {"alertname": "DeadMansSnitch"}, "heartbeat": True},
        {"match": {"alertname": "Disk*", "component": "db"}, "severity": "info"},
        {"match": {"team": "noisy"}, "severity": "info"},
    ],
}
RULES = topology(DOC)


def alert(name: str, severity: Any = "critical", status: str = "firing", **labels: str) -> Alert:
    return Alert(
        fingerprint=f"{name}-{sorted(labels.items())}",
        status="firing" if status == "firing" else "resolved",
        severity=normalise_severity(severity),
        labels={"alertname": name, **labels},
        received_at=T0,
        starts_at=T0 if status == "firing" else None,
        ends_at=None if status == "firing" else T0 + SEC,
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "warning"),  # no severity at all: Grafana's default, many Alertmanager rules
        ("critical", "critical"),
        ("Severe", "critical"),
        ("ERROR", "critical"),
        ("disaster", "critical"),
        ("major", "critical"),
        ("P1", "critical"),
        (1, "critical"),
        ("2", "critical"),
        ("Warning", "warning"),
        ("average", "warning"),
        ("minor", "warning"),
        ("p3", "warning"),
        (3, "warning"),
        (3.0, "warning"),
        ("info", "info"),
        ("informational", "info"),
        ("low", "info"),
        ("none", "info"),
        ("OK", "info"),
        ("P5", "info"),
        (4, "info"),
        ("  low ", "info"),
        ("something-else", "warning"),  # a word nobody defined is never silently ignored
        (7, "warning"),
        (True, "warning"),
        ({"level": 1}, "warning"),
    ],
)
def test_severity_words_and_priorities(given: object, expected: str) -> None:
    assert normalise_severity(given) == expected


def test_first_matching_rule_wins() -> None:
    rules = RULES.alert_rules
    # "DiskFilling…" matches rule 0 (warning) before rule 2 (info for db).
    assert apply_alert_rules(alert("DiskWillBeFillingUp", component="db"), rules).severity == (
        "warning"
    )
    assert apply_alert_rules(alert("DiskFull", component="db"), rules).severity == "info"
    assert apply_alert_rules(alert("DiskFull", component="web"), rules).severity == "critical"
    marked = apply_alert_rules(alert("DeadMansSnitch"), rules)
    assert (marked.heartbeat, marked.severity) == (True, "critical")
    unchanged = alert("Other", team="quiet")
    assert apply_alert_rules(unchanged, rules) is unchanged


def test_rules_keep_file_order_and_compare_by_content() -> None:
    assert RULES.alert_rules == (
        AlertRule((("alertname", "Disk*Filling*"),), "warning"),
        AlertRule((("alertname", "DeadMansSnitch"),), None, True),
        AlertRule((("alertname", "Disk*"), ("component", "db")), "info"),
        AlertRule((("team", "noisy"),), "info"),
    )


def run(alerts: list[Alert]) -> tuple[Engine, StepResult]:
    engine = Engine(RULES)
    out = StepResult()
    for a in alerts:
        out.extend(engine.ingest(a))
    return engine, out


def test_engine_applies_overrides_before_health() -> None:
    engine, out = run([alert("DiskFull", component="db"), alert("Noise", team="noisy", app="web")])
    # Both overridden to info: info never changes health.
    assert out.events == [] and engine.counts.mapped == 2
    engine, out = run([alert("DiskFilling", component="db")])
    [opened] = out.events
    assert (opened.type, opened.incident.severity) == ("incident.opened", "SEV4")


def test_heartbeat_rule_marks_a_source_alive_and_is_never_unmapped() -> None:
    engine, out = run([alert("DeadMansSnitch", prometheus="eu-1")])
    assert (out.events, out.unmapped) == ([], [])
    assert (engine.counts.heartbeats, engine.counts.unmapped) == (1, 0)
    stale = engine.tick(T0 + 5 * 60 * SEC + SEC)
    assert stale.summary is not None and stale.summary.stale_sources == ("eu-1",)


def test_a_resolve_never_seen_firing_counts_by_its_labels() -> None:
    engine, out = run(
        [
            alert("Down", status="resolved", component="db"),
            alert("Down", status="resolved", component="nowhere"),
        ]
    )
    assert (engine.counts.mapped, engine.counts.unmapped) == (1, 1)
    # The unmapped one is published like any unmapped alert, so the count and the topic agree.
    assert [(u.alert.labels["component"], u.alert.status) for u in out.unmapped] == [
        ("nowhere", "resolved")
    ]
    assert out.events == []


def test_entity_is_a_default_label() -> None:
    engine, out = run([alert("Opsgenie", entity="db.prod.example")])
    assert engine.counts.mapped == 1 and [e.type for e in out.events] == ["incident.opened"]


RULES_HEAD = (
    "apiVersion: correlator/v1\nname: t\nsegments: [{id: s, customers: 1, uses: [b]}]\n"
    "business_services: [{id: b, depends_on: [c]}]\ncomponents: [{id: c}]\n"
)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("alert_rules: {a: b}\n", "t.yaml: alert_rules: must be a list"),
        (
            "alert_rules: [warning]\n",
            "t.yaml: alert_rules[0]: must be a mapping with match and severity or heartbeat",
        ),
        (
            "alert_rules: [{severity: warning}]\n",
            "t.yaml: alert_rules[0]: match is required: a non-empty mapping label: value (globs)",
        ),
        (
            "alert_rules: [{match: {a: [1]}, severity: warning}]\n",
            "t.yaml: alert_rules[0]: match a: the value must be a string (a glob)",
        ),
        (
            "alert_rules: [{match: {a: b}, severity: page}]\n",
            "t.yaml: alert_rules[0]: severity must be one of critical, warning, info, got 'page'",
        ),
        (
            "alert_rules: [{match: {a: b}, heartbeat: 'yes'}]\n",
            "t.yaml: alert_rules[0]: heartbeat must be true or false, got 'yes'",
        ),
        (
            "alert_rules: [{match: {a: b}}]\n",
            "t.yaml: alert_rules[0]: a rule needs severity (an override) or heartbeat: true",
        ),
        (
            "alert_rules: [{match: {a: b}, severity: info, heartbeat: true}]\n",
            "t.yaml: alert_rules[0]: severity and heartbeat: true exclude each other (a "
            "heartbeat never changes health)",
        ),
        (
            "alert_rules: [{match: {a: b}, severity: info, sevrity: warning}]\n",
            "t.yaml: alert_rules[0]: unknown key 'sevrity' (allowed: description, heartbeat, "
            "match, severity)",
        ),
    ],
    ids=[
        "not-a-list",
        "not-a-mapping",
        "no-match",
        "nested-value",
        "unknown-severity",
        "heartbeat-not-bool",
        "does-nothing",
        "both",
        "typo",
    ],
)
def test_invalid_alert_rules_are_one_line(rules: str, message: str) -> None:
    with pytest.raises(TopologyError) as caught:
        parse_topology_text(RULES_HEAD + rules, "t.yaml")
    assert str(caught.value) == message
