"""Public payloads collected from other projects (fixtures/SOURCES.md, "Collected for issue 10"):
each decodes to what a user of the sending tool expects, and replays to the health they expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from correlator.adapters import decode_payload
from correlator.core.timefmt import format_time, parse_time
from correlator.replay import Replay, read_inputs
from correlator.topology_files import load_topology

FIXTURES = Path(__file__).parent / "fixtures"
TOPOLOGY = load_topology(FIXTURES / "real-world.yaml")


def decoded(name: str, received: str) -> list[tuple[Any, ...]]:
    """(fingerprint, status, severity, event time, a few labels) per alert, or the reason of
    each dead letter."""
    out = decode_payload((FIXTURES / name).read_bytes(), parse_time(received))
    rows: list[tuple[Any, ...]] = [
        (
            a.fingerprint,
            a.status,
            a.severity,
            format_time(a.event_time),
            {k: a.labels[k] for k in sorted(a.labels) if k in WATCHED},
        )
        for a in out.alerts
    ]
    rows.extend(("dead letter", d.reason) for d in out.dead_letters)
    return rows


WATCHED = {"alertname", "instance", "severity", "InstanceId", "QueueName", "region", "region_name"}


def test_alertmanager_major_is_critical_and_hashes_the_labels() -> None:
    rows = decoded("alertmanager-major-severity.json", "2019-09-27T16:30:00Z")
    assert [(status, sev, at, labels["instance"]) for _, status, sev, at, labels in rows] == [
        ("firing", "critical", "2019-09-27T16:27:56.612Z", f"172.29.254.{n}") for n in (30, 50, 66)
    ]


def test_alertmanager_capitalised_warning_resolves_at_its_ends_at() -> None:
    assert decoded("alertmanager-resolved-capitalised-severity.json", "2022-07-29T11:18:00Z") == [
        (
            "fbab788ec4c1018b",
            "resolved",
            "warning",
            "2022-07-29T11:17:27.300Z",
            {
                "alertname": "Deployment",
                "instance": "192.168.69.53:8080",
                "severity": "Warning",
            },
        )
    ]


def test_minimal_hand_sent_alertmanager_payload_is_a_firing_warning() -> None:
    [(_, status, severity, at, labels)] = decoded(
        "alertmanager-minimal.json", "2025-08-21T10:00:05Z"
    )
    assert (status, severity, at, labels["instance"]) == (
        "firing",
        "warning",
        "2025-08-21T10:00:00Z",
        "test-node",
    )


def test_legacy_grafana_payloads_get_a_reason_of_their_own() -> None:
    for name in ("grafana-legacy-1.json", "grafana-legacy-2.json"):
        [(kind, reason)] = decoded(name, "2021-01-01T00:00:00Z")
        assert kind == "dead letter"
        assert reason.startswith("grafana: a legacy Grafana alerting payload"), reason


def test_cloudwatch_metric_math_alarm_keeps_its_dimension() -> None:
    assert decoded("cloudwatch-sns-lambda-multiple-metrics.json", "2015-06-03T17:45:00Z") == [
        (
            "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE",
            "firing",
            "critical",
            "2015-06-03T17:43:27.123Z",
            {"InstanceId": "TestInstance", "region": "REGION", "region_name": "EXAMPLE"},
        )
    ]


def test_cloudwatch_alarm_without_an_arn_keeps_the_display_name_only() -> None:
    [(fingerprint, status, severity, at, labels)] = decoded(
        "cloudwatch-bare-alarm-2012.json", "2012-08-05T22:32:00Z"
    )
    assert (status, severity, at, labels) == (
        "firing",
        "critical",
        "2012-08-05T22:31:25.524Z",
        {"InstanceId": "i-39e64c5f", "region_name": "US - N. Virginia"},
    )
    assert len(fingerprint) == 16  # a hash of the labels: no AlarmArn to use


def test_cloudwatch_ok_envelope_with_a_null_description_resolves() -> None:
    [(_, status, severity, at, labels)] = decoded(
        "cloudwatch-sns-envelope-ok-2012.json", "2012-03-23T00:02:00Z"
    )
    assert (status, severity, at, labels) == (
        "resolved",
        "critical",
        "2012-03-23T00:01:43.726Z",
        {"QueueName": "fault-handling-test", "region_name": "US - N. Virginia"},
    )


def replay(*names: str) -> dict[str, Any]:
    run = Replay(TOPOLOGY)
    for _ in run.run(read_inputs([FIXTURES / n for n in names])):
        pass
    summary = run.summary()
    return {
        "services": {s["id"]: s["state"] for s in summary["business_services"]},
        "open": sorted((i["severity"], tuple(i["root_causes"])) for i in summary["open_incidents"]),
        "incidents_total": summary["incidents_total"],
        "alerts": summary["alerts"],
    }


def test_replay_of_an_icmp_outage_then_its_clear() -> None:
    # The clear's alerts carry no endsAt: they resolve at the newest time of their own payload
    # (their startsAt), which is not older than the firing they clear.
    assert replay("alertmanager-major-severity.json") == {
        "services": {"monitoring": "down", "shop": "ok"},
        # every customer uses monitoring (tier 2): 100 % affected through tier 1/2 is SEV1
        "open": [("SEV1", ("icmp-30", "icmp-50", "icmp-66"))],
        "incidents_total": 1,
        "alerts": {"received": 3, "mapped": 3, "unmapped": 0, "invalid": 0},
    }
    assert replay("alertmanager-major-severity.json", "alertmanager-major-severity-clear.json") == {
        "services": {"monitoring": "ok", "shop": "ok"},
        "open": [],
        "incidents_total": 1,
        "alerts": {"received": 6, "mapped": 6, "unmapped": 0, "invalid": 0},
    }


def test_replay_of_grafana_alerts_without_severity_degrades_instead_of_all_clear() -> None:
    assert replay("grafana-1.json") == {
        "services": {"monitoring": "ok", "shop": "degraded"},
        "open": [("SEV4", ("zone-us-1", "zone-eu-1"))],
        "incidents_total": 1,
        "alerts": {"received": 2, "mapped": 2, "unmapped": 0, "invalid": 0},
    }


def test_replay_of_a_resolve_never_seen_firing_counts_it_as_mapped() -> None:
    result = replay("cloudwatch-sns-envelope-ok-2012.json")
    assert result["alerts"] == {"received": 1, "mapped": 1, "unmapped": 0, "invalid": 0}
    assert result["open"] == [] and result["incidents_total"] == 0


def test_replay_of_cloudwatch_alarms_takes_the_component_down() -> None:
    result = replay("cloudwatch-sns-lambda-multiple-metrics.json")
    assert result["services"] == {"monitoring": "ok", "shop": "down"}
    assert result["open"] == [("SEV1", ("test-instance",))]
