"""Crash safety against a real broker (DESIGN §2, issue 9): a `correlator worker` SIGKILLed in
the middle of a storm while alerts keep coming, then started again with the same instance id.
The incident history on `incident.events` and in the history database equals `correlator
replay` of the same alerts (asserted in `make test` and `make chaos`); nothing is
opened twice, per incident `seq` runs 1..n without gaps, a record repeated after the crash
is identical to the first, and processing resumes. The time to resume is printed (a figure,
not an assertion: the goal is 15 s). The scenarios, also for `make chaos`:
`crash_scenarios.py`; one of several workers killed: `test_rebalance.py`."""

from __future__ import annotations

from pathlib import Path

import pytest
from crash_scenarios import report_chaos, scenario

from correlator.broker import KafkaBroker

pytestmark = pytest.mark.kafka


async def test_sigkill_mid_storm_and_restart_gives_replays_history(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    report = await scenario(kafka_broker, tmp_path, workers=1, restart=True)
    report_chaos("crash", report)
    sound = {k: report[k] for k in ("same id+seq differing", "seq gaps", "opened != 1")}
    assert sound == {"same id+seq differing": 0, "seq gaps": 0, "opened != 1": 0}, report
    assert report["incidents"] > 0, report
    assert (report["lost"], report["extra"], report["db == replay"]) == (0, 0, True), report
    assert report["incidents"] == report["replay incidents"], report
    assert report["recovery s"] is not None, report  # it resumed
