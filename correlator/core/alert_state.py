"""Per-fingerprint alert state (DESIGN §4): firing, resolved, expiry, repeats and late events.

The alert-state stage is keyed by fingerprint, so this book holds nothing else: each alert's
component (fixed when it first fires), whether it is active, and the time of its last applied
change. It turns canonical alerts into `AlertTransition`s for the health stage.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from correlator.core.alerts import Alert
from correlator.core.timefmt import HOUR, Millis

FORGET_RESOLVED_AFTER: Millis = 24 * HOUR
"""How long a resolved alert is remembered (for the out-of-order rule) before it is forgotten."""

OutcomeKind = Literal["changed", "repeat", "stale", "unmapped", "unknown-resolve", "heartbeat"]


@dataclass(frozen=True, slots=True)
class AlertTransition:
    """An alert started, changed or stopped contributing to one component's health."""

    component: str
    fingerprint: str
    active: bool
    alert: Alert


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying one alert did."""

    kind: OutcomeKind
    transition: AlertTransition | None = None
    tried: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _Tracked:
    component: str
    active: bool
    last_change: Millis
    alert: Alert
    deadline: Millis | None


@dataclass(frozen=True, slots=True)
class TrackedAlert:
    """What the alert-state stage persists per fingerprint (written only when it changes)."""

    fingerprint: str
    component: str
    active: bool
    last_change: Millis
    alert: Alert
    deadline: Millis | None


Resolver = Callable[[Mapping[str, str]], tuple[str | None, tuple[tuple[str, str], ...]]]
"""labels -> (component or None, the (label, value) pairs tried)."""


class AlertBook:
    """The state of every alert seen, by fingerprint."""

    def __init__(self) -> None:
        self._alerts: dict[str, _Tracked] = {}
        self._deadlines: list[tuple[Millis, str]] = []
        self._next_sweep: Millis | None = None

    def __len__(self) -> int:
        return len(self._alerts)

    @classmethod
    def restore(cls, entries: Iterable[TrackedAlert]) -> AlertBook:
        """A book holding exactly `entries` (as exported), expiry deadlines rescheduled."""
        book = cls()
        for e in entries:
            book._alerts[e.fingerprint] = _Tracked(
                e.component, e.active, e.last_change, e.alert, e.deadline
            )
            if e.active:
                book._schedule(e.deadline, e.fingerprint)
        return book

    def export(self, fingerprint: str) -> TrackedAlert | None:
        """One fingerprint's state, to persist after a change."""
        t = self._alerts.get(fingerprint)
        if t is None:
            return None
        return TrackedAlert(fingerprint, t.component, t.active, t.last_change, t.alert, t.deadline)

    def entries(self) -> list[TrackedAlert]:
        """Every fingerprint the book knows."""
        return [e for fp in self._alerts if (e := self.export(fp)) is not None]

    def active_count(self) -> int:
        return sum(1 for t in self._alerts.values() if t.active)

    def apply(self, alert: Alert, resolve: Resolver, now: Millis) -> Outcome:
        """Apply one alert; `now` is the event-time clock after this alert."""
        fp = alert.fingerprint
        tracked = self._alerts.get(fp)
        when = alert.event_time
        if tracked is not None and when < tracked.last_change:
            return Outcome("stale")
        firing = alert.status == "firing" and (alert.ends_at is None or alert.ends_at > now)
        if tracked is None or not tracked.active:
            if not firing:
                if tracked is not None:
                    tracked.last_change = when
                    return Outcome("repeat")
                # Never seen firing: changes nothing, but counts by what its labels match.
                component, tried = resolve(alert.labels)
                return Outcome("unknown-resolve" if component else "unmapped", tried=tried)
            component, tried = resolve(alert.labels)
            if component is None:
                return Outcome("unmapped", tried=tried)
            self._alerts[fp] = _Tracked(component, True, when, alert, alert.ends_at)
            self._schedule(alert.ends_at, fp)
            return Outcome("changed", AlertTransition(component, fp, True, alert))
        # An active alert: a resolve, a change of content, or a repeat.
        if not firing:
            tracked.active = False
            tracked.last_change = when
            tracked.deadline = None
            return Outcome("changed", AlertTransition(tracked.component, fp, False, alert))
        tracked.last_change = when
        if alert.ends_at != tracked.deadline:
            tracked.deadline = alert.ends_at
            self._schedule(alert.ends_at, fp)
        previous = tracked.alert
        if previous.severity == alert.severity and previous.summary == alert.summary:
            return Outcome("repeat")
        tracked.alert = alert
        return Outcome("changed", AlertTransition(tracked.component, fp, True, alert))

    def next_deadline(self) -> Millis | None:
        """The earliest `ends_at` of an active alert, if any (for the replay's final clock)."""
        while self._deadlines:
            deadline, fp = self._deadlines[0]
            tracked = self._alerts.get(fp)
            if tracked is not None and tracked.active and tracked.deadline == deadline:
                return deadline
            heapq.heappop(self._deadlines)
        return None

    def expire(self, now: Millis) -> list[AlertTransition]:
        """Firing alerts whose `ends_at` has passed resolve as if a resolve had arrived."""
        out: list[AlertTransition] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, fp = heapq.heappop(self._deadlines)
            tracked = self._alerts.get(fp)
            if tracked is None or not tracked.active or tracked.deadline != deadline:
                continue
            tracked.active = False
            tracked.last_change = deadline
            tracked.deadline = None
            out.append(AlertTransition(tracked.component, fp, False, tracked.alert))
        self._sweep(now)
        return out

    def _sweep(self, now: Millis) -> None:
        """Forget alerts resolved more than 24 h ago (at most once an hour of event time).

        Their only use is the out-of-order rule, against a late change of the same alert; a
        day is far beyond any sender's delivery delay, and the book stays bounded however many
        fingerprints come and go."""
        if self._next_sweep is not None and now < self._next_sweep:
            return
        self._next_sweep = now + HOUR
        horizon = now - FORGET_RESOLVED_AFTER
        for fp in [
            fp for fp, t in self._alerts.items() if not t.active and t.last_change < horizon
        ]:
            del self._alerts[fp]

    def _schedule(self, deadline: Millis | None, fp: str) -> None:
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, fp))
