"""Alert rules of the topology (DESIGN §3 `alert_rules`): severity overrides and heartbeat
selectors, applied to every canonical alert after its adapter, first match wins.

Pure: `apply_alert_rules` returns the alert unchanged, or a copy with the rule's severity and/or
the `heartbeat` flag set. The stream's alert-state stage and `Engine` (replay, tests) both call
it on each alert before anything else looks at it, so severity and heartbeats mean the same
everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from correlator.core.alerts import Alert, AlertSeverity
from correlator.core.matching import Selector, compile_selector


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One rule: a label selector (shell-style globs in values) and what it sets."""

    match: tuple[tuple[str, str], ...]
    severity: AlertSeverity | None = None
    heartbeat: bool = False
    selector: Selector = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "selector", compile_selector(self.match))

    def matches(self, alert: Alert) -> bool:
        return self.selector.matches(alert.labels)


def apply_alert_rules(alert: Alert, rules: Sequence[AlertRule]) -> Alert:
    """`alert` as the first rule matching its labels has it (unchanged when none matches)."""
    for rule in rules:
        if rule.selector.matches(alert.labels):
            severity = rule.severity or alert.severity
            heartbeat = rule.heartbeat or alert.heartbeat
            if severity == alert.severity and heartbeat == alert.heartbeat:
                return alert
            return replace(alert, severity=severity, heartbeat=heartbeat)
    return alert


def apply_all(alerts: Sequence[Alert], rules: Sequence[AlertRule]) -> list[Alert]:
    """Each alert of a batch through `apply_alert_rules` (a no-op without rules)."""
    if not rules:
        return list(alerts)
    return [apply_alert_rules(a, rules) for a in alerts]
