"""What a chaos scenario checked, printed as one line and collected for `make chaos`.

`report("broker-outage", lost=0, duplicated=0, recovery_s=3.2, ...)` prints
`CHAOS broker-outage: lost=0 duplicated=0 recovery_s=3.2 …` and, when `CORRELATOR_CHAOS_REPORT`
names a file (the `make chaos` runner sets it), appends the figures there as one JSON line.
Other scenarios (crash, rebalance, backlog in tests/stream/) can import and call it too.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

FULL = os.environ.get("CORRELATOR_CHAOS_FULL", "") not in ("", "0")
"""The full versions (`make chaos` sets it): a 30 s outage, a longer overload."""


def report(scenario: str, **figures: Any) -> None:
    line = " ".join(f"{k}={_text(v)}" for k, v in figures.items())
    print(f"CHAOS {scenario}: {line}", flush=True)
    path = os.environ.get("CORRELATOR_CHAOS_REPORT")
    if path:
        with open(path, "ab") as out:
            out.write(orjson.dumps({"scenario": scenario, **figures}) + b"\n")


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
