"""Every verbatim public sample (fixtures/, see SOURCES.md there) decoded to whole values."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from correlator.adapters import DeadLetter, Decoded, decode_payload, detect
from correlator.core.alerts import Alert
from correlator.core.timefmt import parse_time

FIXTURES = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_alertmanager_current_payload() -> None:
    received = parse_time("2023-02-06T13:12:00Z")
    assert decode_payload(raw("alertmanager-1.json"), received) == Decoded(
        alerts=(
            Alert(
                fingerprint="1a30ba71cca2921f",
                status="firing",
                severity="critical",
                labels={
                    "alertname": "ProbeFailure",
                    "instance": "https://server.example.org",
                    "job": "http_checks",
                    "monitor": "master",
                    "severity": "critical",
                },
                received_at=received,
                annotations={
                    "description": "Instance https://server.example.org has been down for "
                    "over 5m. Job: http_checks",
                    "summary": "BlackBox Probe Failure: https://server.example.org",
                },
                summary="BlackBox Probe Failure: https://server.example.org",
                starts_at=parse_time("2023-02-06T13:08:45.828Z"),
                ends_at=None,
                source="alertmanager",
            ),
        ),
        dead_letters=(),
        notes=(),
        format="alertmanager",
    )


def test_alertmanager_older_payload_without_fingerprint_hashes_the_labels() -> None:
    received = parse_time("2018-08-03T07:55:00Z")
    labels = {
        "alertname": "Test",
        "dc": "eu-west-1",
        "instance": "localhost:9090",
        "job": "prometheus24",
    }
    assert decode_payload(raw("alertmanager-2.json"), received) == Decoded(
        alerts=(
            Alert(
                # A stable hash of the sorted labels: pinned, since alert state is keyed by it.
                fingerprint="d56cfda01914aa79",
                status="firing",
                severity="warning",  # no severity label: a warning (DESIGN §4)
                labels=labels,
                received_at=received,
                annotations={"description": "some description"},
                summary="some description",
                starts_at=parse_time("2018-08-03T07:52:26.739Z"),
                source="alertmanager",
            ),
        ),
        dead_letters=(),
        notes=(),
        format="alertmanager",
    )


def test_grafana_payload() -> None:
    received = parse_time("2021-10-12T08:00:00Z")

    def expected(fp: str, name: str, zone: str, started: str, what: str) -> Alert:
        summary = f"This alert was triggered for zone {zone}"
        return Alert(
            fingerprint=fp,
            status="firing",
            severity="warning",  # Grafana sets no severity label: a warning (DESIGN §4)
            labels={"alertname": name, "team": "blue", "zone": zone},
            received_at=received,
            annotations={
                "description": f"The system has high {what} usage",
                "runbook_url": "https://myrunbook.com/runbook/1234",
                "summary": summary,
            },
            summary=summary,
            starts_at=parse_time(started),
            source="grafana",
        )

    assert decode_payload(raw("grafana-1.json"), received) == Decoded(
        alerts=(
            expected(
                "c6eadffa33fcdf37",
                "High memory usage",
                "us-1",
                "2021-10-12T07:51:03.157Z",
                "memory",
            ),
            expected(
                "bc97ff14869b13e3", "High CPU usage", "eu-1", "2021-10-12T07:56:03.157Z", "CPU"
            ),
        ),
        dead_letters=(),
        notes=(),
        format="grafana",
    )


def test_pagerduty_trigger() -> None:
    received = parse_time("2015-07-17T08:45:00Z")
    assert decode_payload(raw("pagerduty-1.json"), received) == Decoded(
        alerts=(
            Alert(
                fingerprint="pd:f9d17762c3f5:samplekeyhere",
                status="firing",
                severity="info",
                labels={
                    "ping time": "1500ms",
                    "load avg": "0.75",
                    "host": "monitoringtool:cloudvendor:central-region-dc-01:852559987:"
                    "cluster/api-stats-prod-003",
                    "component": "postgres",
                    "group": "prod-datapipe",
                    "class": "deploy",
                },
                received_at=received,
                annotations={
                    "client": "Sample Monitoring Service",
                    "client_url": "https://monitoring.example.com",
                },
                summary="Example alert on host1.example.com",
                starts_at=parse_time("2015-07-17T08:42:58.315Z"),
                source="pagerduty",
            ),
        ),
        dead_letters=(),
        notes=(),
        format="pagerduty",
    )


def test_pagerduty_acknowledge_is_a_note() -> None:
    assert decode_payload(raw("pagerduty-2.json"), 1_000) == Decoded(
        alerts=(),
        dead_letters=(),
        notes=("pagerduty acknowledge of pd:a783998a7c7a:dedupkeyhere: no change of health",),
        format="pagerduty",
    )


def test_pagerduty_resolve_carries_only_the_fingerprint() -> None:
    received = parse_time("2015-07-17T09:00:00Z")
    assert decode_payload(raw("pagerduty-3.json"), received) == Decoded(
        alerts=(
            Alert(
                fingerprint="pd:a783998a7c7a:dedupkeyhere",
                status="resolved",
                severity="info",
                labels={},
                received_at=received,
                source="pagerduty",
            ),
        ),
        dead_letters=(),
        notes=(),
        format="pagerduty",
    )


CLOUDWATCH_ALERT = Alert(
    fingerprint="arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE",
    status="firing",
    severity="critical",
    labels={
        "InstanceId": "TestInstance",
        "alarm": "EXAMPLE",
        "namespace": "AWS/EC2",
        # the region code is the AlarmArn's (a placeholder in this sample), the display name
        # (also a placeholder here) is kept as region_name
        "region": "REGION",
        "region_name": "EXAMPLE",
        "account": "123456789012",
    },
    received_at=parse_time("2015-06-03T17:45:00Z"),
    annotations={
        "description": "EXAMPLE",
        "reason": "Threshold Crossed: 1 out of the last 1 datapoints [1234.0 (06/03/15 17:43:27)] "
        "was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).",
    },
    summary="EXAMPLE",
    starts_at=parse_time("2015-06-03T17:43:27.123Z"),
    source="cloudwatch",
)


def test_cloudwatch_lambda_wrapped() -> None:
    decoded = decode_payload(raw("cloudwatch-sns-lambda-1.json"), CLOUDWATCH_ALERT.received_at)
    assert decoded == Decoded((CLOUDWATCH_ALERT,), (), (), "cloudwatch")


def test_cloudwatch_raw_https_envelope_gives_the_same_alert() -> None:
    envelope = orjson.loads(raw("cloudwatch-sns-lambda-1.json"))["Records"][0]["Sns"]
    decoded = decode_payload(orjson.dumps(envelope), CLOUDWATCH_ALERT.received_at)
    assert decoded == Decoded((CLOUDWATCH_ALERT,), (), (), "cloudwatch")


def test_opsgenie_create() -> None:
    received = parse_time("2015-01-05T10:05:00Z")
    assert decode_payload(raw("opsgenie-1.json"), received) == Decoded(
        alerts=(
            Alert(
                fingerprint="aliastest",
                status="firing",
                # No priority in the payload: Opsgenie's default P3.
                severity="warning",
                labels={"source": "fili@ifountain.com"},
                received_at=received,
                annotations={
                    "alert_id": "052652ac-5d1c-464a-812a-7dd18bbfba8c",
                    "tiny_id": "23",
                    "tags": "tag1, tag2",
                },
                summary="test alert",
                starts_at=1420452191104,
                source="opsgenie",
            ),
        ),
        dead_letters=(),
        notes=(),
        format="opsgenie",
    )


def test_opsgenie_acknowledge_is_a_note() -> None:
    assert decode_payload(raw("opsgenie-2.json"), 1_000) == Decoded(
        alerts=(),
        dead_letters=(),
        notes=("opsgenie Acknowledge of alert 'aliastest': no change of health",),
        format="opsgenie",
    )


def test_datadog_default_template_is_an_unknown_format_not_a_guess() -> None:
    body = raw("datadog-default-template-1.json")
    assert decode_payload(body, 1_000) == Decoded(
        alerts=(),
        dead_letters=(
            DeadLetter(
                reason="unknown alert format: a JSON object with keys body, date, event_type, "
                "id, last_updated, org, title (supported: alertmanager, grafana, pagerduty, "
                "cloudwatch, opsgenie, canonical)",
                source="unknown",
                received_at=1_000,
                excerpt=body.decode(),
                excerpt_encoding="utf-8",
            ),
        ),
        notes=(),
        format=None,
    )


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("alertmanager-1.json", "alertmanager"),
        ("alertmanager-2.json", "alertmanager"),
        ("grafana-1.json", "grafana"),
        ("pagerduty-1.json", "pagerduty"),
        ("pagerduty-2.json", "pagerduty"),
        ("pagerduty-3.json", "pagerduty"),
        ("cloudwatch-sns-lambda-1.json", "cloudwatch"),
        ("opsgenie-1.json", "opsgenie"),
        ("opsgenie-2.json", "opsgenie"),
        ("datadog-default-template-1.json", None),
        ("alertmanager-major-severity.json", "alertmanager"),
        ("alertmanager-major-severity-clear.json", "alertmanager"),
        ("alertmanager-resolved-capitalised-severity.json", "alertmanager"),
        ("alertmanager-minimal.json", "alertmanager"),
        ("grafana-legacy-1.json", "grafana"),
        ("grafana-legacy-2.json", "grafana"),
        ("cloudwatch-sns-lambda-multiple-metrics.json", "cloudwatch"),
        ("cloudwatch-bare-alarm-2012.json", "cloudwatch"),
        ("cloudwatch-sns-envelope-ok-2012.json", "cloudwatch"),
    ],
)
def test_detection(name: str, fmt: str | None) -> None:
    assert detect(orjson.loads(raw(name))) == fmt


def test_every_fixture_is_covered() -> None:
    tested = {
        "alertmanager-1.json",
        "alertmanager-2.json",
        "grafana-1.json",
        "pagerduty-1.json",
        "pagerduty-2.json",
        "pagerduty-3.json",
        "cloudwatch-sns-lambda-1.json",
        "opsgenie-1.json",
        "opsgenie-2.json",
        "datadog-default-template-1.json",
    }
    # The payloads collected for issue 10 are covered in test_real_payloads.py.
    tested |= {
        "alertmanager-major-severity.json",
        "alertmanager-major-severity-clear.json",
        "alertmanager-resolved-capitalised-severity.json",
        "alertmanager-minimal.json",
        "grafana-legacy-1.json",
        "grafana-legacy-2.json",
        "cloudwatch-sns-lambda-multiple-metrics.json",
        "cloudwatch-bare-alarm-2012.json",
        "cloudwatch-sns-envelope-ok-2012.json",
    }
    assert {p.name for p in FIXTURES.glob("*.json")} == tested
