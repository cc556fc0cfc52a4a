"""Which incident events become notifications (pure: no I/O, no clock).

A responder wants to hear when an incident opens or reopens, when its severity changes, when a
planned incident becomes unplanned (it now pages like any other), and when it resolves — for
the severities they chose, never for planned work, and once per event even though Kafka may
deliver it twice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")


@dataclass(slots=True)
class _Seen:
    seq: int
    severity: str
    planned: bool


class NotifyPolicy:
    """`decide(event)`: notify or not. Remembers, per open incident, the last `seq`, severity
    and planned flag; of a resolved or merged incident only its last `seq`, for the most recent
    `closed_memory` of them (the impact stage may publish an incident's events again after a
    restart: at-least-once)."""

    def __init__(
        self, severities: frozenset[str] = frozenset(SEVERITIES), closed_memory: int = 10_000
    ) -> None:
        self.severities = severities
        self.closed_memory = closed_memory
        self._seen: dict[str, _Seen] = {}
        self._closed: OrderedDict[str, int] = OrderedDict()

    def decide(self, event: Mapping[str, Any]) -> bool:
        snapshot = event.get("incident")
        kind = event.get("type")
        seq = event.get("seq")
        if not isinstance(snapshot, Mapping) or not isinstance(seq, int):
            return False
        incident = snapshot.get("id")
        if not isinstance(incident, str):
            return False
        before = self._seen.get(incident)
        last = before.seq if before is not None else self._closed.get(incident, 0)
        if seq <= last:
            return False  # a redelivery
        severity = str(snapshot.get("severity") or "")
        planned = snapshot.get("planned") is True  # a snapshot without the field is unplanned
        if kind in ("incident.resolved", "incident.merged"):
            self._seen.pop(incident, None)
            self._closed[incident] = seq
            self._closed.move_to_end(incident)
            while len(self._closed) > self.closed_memory:
                self._closed.popitem(last=False)
        else:
            self._seen[incident] = _Seen(seq, severity, planned)
            self._closed.pop(incident, None)
        if planned:
            return False
        if kind in ("incident.opened", "incident.reopened"):
            return severity in self.severities
        if kind == "incident.resolved":
            peak = str(snapshot.get("peak_severity") or severity)
            return peak in self.severities or severity in self.severities
        if kind == "incident.updated" and before is not None:
            if before.planned:
                return severity in self.severities  # the window ended, or an unplanned cause
            if before.severity != severity:
                return severity in self.severities or before.severity in self.severities
        return False
