"""Replay of real-format alert files agrees with replay of their canonical equivalents
(issue: alert ingestion, "Done when")."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from correlator.adapters import decode_payload
from correlator.core.alerts import alert_to_dict
from correlator.core.timefmt import parse_time
from correlator.replay import Replay, read_inputs
from correlator.simulate import simulate
from correlator.topology_files import load_topology

ROOT = Path(__file__).resolve().parent.parent
START = parse_time("2026-11-24T08:00:00Z")


def _state(summary: dict[str, Any]) -> dict[str, Any]:
    """The final state; ids differ between runs fed different bytes, figures may not."""
    return {
        "customers_affected": summary["customers_affected"],
        "customers_degraded": summary["customers_degraded"],
        "business_services": summary["business_services"],
        "unattached_problems": summary["unattached_problems"],
        "incidents_total": summary["incidents_total"],
        "open": sorted(
            (i["root_causes"], i["customers_affected"], i["severity"], i["alert_count"])
            for i in summary["open_incidents"]
        ),
        "mapped": summary["alerts"]["mapped"],
        "unmapped": summary["alerts"]["unmapped"],
    }


@pytest.mark.parametrize("name", ["acme-shop", "bank", "saas"])
@pytest.mark.parametrize("scenario", ["storm", "flapping"])
def test_real_formats_and_canonical_equivalents_give_the_same_summary(
    tmp_path: Path, name: str, scenario: str
) -> None:
    topology = load_topology(ROOT / "topologies" / f"{name}.yaml")
    payloads = list(
        itertools.islice(simulate(topology, seed=3, start=START, scenario=scenario), 2000)
    )
    formats = {p.fmt for p in payloads}
    real = {"alertmanager", "grafana", "pagerduty", "cloudwatch", "opsgenie"}
    assert len(formats & real) >= 3  # really mixed formats in one file
    raw = tmp_path / "raw.jsonl"
    raw.write_bytes(b"".join(p.to_json() + b"\n" for p in payloads))
    canonical = tmp_path / "canonical.jsonl"
    with canonical.open("wb") as out:
        for p in payloads:
            body = p.payload.encode() if isinstance(p.payload, str) else orjson.dumps(p.payload)
            for alert in decode_payload(body, p.at).alerts:
                out.write(orjson.dumps(alert_to_dict(alert)) + b"\n")

    from_raw = Replay(topology)
    for _ in from_raw.run(read_inputs([raw])):
        pass
    from_canonical = Replay(topology)
    for _ in from_canonical.run(read_inputs([canonical])):
        pass
    raw_summary = from_raw.summary()
    assert raw_summary["alerts"]["invalid"] > 0  # the malformed payloads were counted
    assert raw_summary["incidents_total"] > 0
    assert _state(raw_summary) == _state(from_canonical.summary())
