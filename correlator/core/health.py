"""Component health (DESIGN §4): counts of active alerts by severity, and the newest alerts.

Any active critical alert → down; else any active warning → degraded; else healthy. Info
alerts are counted and listed but never change health.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Literal

from correlator.core.alert_state import AlertTransition
from correlator.core.alerts import Alert, AlertSeverity, Health
from correlator.core.timefmt import Millis

NEWEST_ALERTS = 20


@dataclass(frozen=True, slots=True)
class AlertBrief:
    """What an incident shows of one alert."""

    fingerprint: str
    severity: AlertSeverity
    summary: str
    starts_at: Millis | None


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    """One component's health record (the value on `component.health`)."""

    id: str
    state: Health
    critical: int
    warning: int
    info: int
    alerts: tuple[AlertBrief, ...]
    as_of: Millis

    @property
    def alert_count(self) -> int:
        return self.critical + self.warning + self.info

    @property
    def problem(self) -> Literal["down", "degraded"] | None:
        return None if self.state == "healthy" else self.state

    def same_content(self, other: ComponentHealth | None) -> bool:
        """Equal apart from `as_of`."""
        return (
            other is not None
            and self.state == other.state
            and (self.critical, self.warning, self.info)
            == (other.critical, other.warning, other.info)
            and self.alerts == other.alerts
        )


def _brief(alert: Alert) -> AlertBrief:
    return AlertBrief(alert.fingerprint, alert.severity, alert.summary, alert.starts_at)


def _newest_key(alert: Alert) -> tuple[int, str]:
    return (
        alert.starts_at if alert.starts_at is not None else alert.received_at,
        alert.fingerprint,
    )


class HealthBook:
    """Active alerts per component, and the health each adds up to."""

    def __init__(self) -> None:
        self._active: dict[str, dict[str, Alert]] = {}
        self._health: dict[str, ComponentHealth] = {}

    def get(self, component: str) -> ComponentHealth | None:
        return self._health.get(component)

    def apply(self, transition: AlertTransition, now: Millis) -> ComponentHealth | None:
        """Fold one transition; return the new record when it differs from the last one."""
        active = self._active.setdefault(transition.component, {})
        if transition.active:
            active[transition.fingerprint] = transition.alert
        else:
            active.pop(transition.fingerprint, None)
        record = self._compute(transition.component, active, now)
        if record.same_content(self._health.get(transition.component)):
            return None
        self._health[transition.component] = record
        return record

    @staticmethod
    def _compute(component: str, active: dict[str, Alert], now: Millis) -> ComponentHealth:
        counts = {"critical": 0, "warning": 0, "info": 0}
        for alert in active.values():
            counts[alert.severity] += 1
        state: Health = (
            "down" if counts["critical"] else "degraded" if counts["warning"] else "healthy"
        )
        newest = heapq.nlargest(NEWEST_ALERTS, active.values(), key=_newest_key)
        return ComponentHealth(
            id=component,
            state=state,
            critical=counts["critical"],
            warning=counts["warning"],
            info=counts["info"],
            alerts=tuple(_brief(a) for a in newest),
            as_of=now,
        )
