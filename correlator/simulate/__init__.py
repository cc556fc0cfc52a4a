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

from correlator.simulate.director import simulate
from correlator.simulate.world import SCENARIOS, SimPayload

__all__ = ["SCENARIOS", "SimPayload", "simulate"]
