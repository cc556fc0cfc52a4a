"""`GET /metrics` of a real worker on the real broker, scraped over HTTP and parsed with
`prometheus_client.parser`: the counters move by what was sent, the gauges agree with what the
impact stage published, and a failing webhook is counted."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from test_ingress import CART_DB_DOWN, alertmanager, free_port
from worker_harness import ACME_TOPOLOGY, latest, make_config, produce, running, wait_for

from correlator.adapters.decode import decode_payload
from correlator.broker import KafkaBroker
from correlator.core.timefmt import format_time
from correlator.notify import NotifySettings
from correlator.stream.metrics import WorkerMetrics, reason_class
from correlator.stream.topics import topics_for

MONITORING = Path(__file__).resolve().parents[2] / "docs" / "monitoring"
DEAD = "correlator_dead_letters_total"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition: (name, sorted labels) → value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


async def scrape(session: aiohttp.ClientSession, base: str) -> tuple[str, Samples]:
    async with session.get(f"{base}/metrics") as response:
        assert response.status == 200
        text = await response.text()
        return response.headers["Content-Type"], parse(text)


@asynccontextmanager
async def failing_webhook() -> AsyncIterator[tuple[str, list[int]]]:
    """A real local HTTP server that answers every post with 500."""
    hits: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        hits.append(500)
        return web.Response(status=500, text="no")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", hits
    finally:
        await runner.cleanup()


async def notifier_started(group: str, bootstrap: str) -> None:
    """The notifier's new group starts at the end of `incident.events`: wait for that start."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:

        async def committed() -> bool:
            return bool(await admin.list_consumer_group_offsets(group))

        await wait_for(committed, 30, f"the notifier group {group} never committed its start")
    finally:
        await admin.close()


@pytest.mark.kafka
async def test_metrics_scraped_from_a_worker_move_with_the_alerts(
    kafka_broker: KafkaBroker,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    now = format_time(int(time.time() * 1000))
    incident = alertmanager(now, CART_DB_DOWN)
    doc = orjson.loads(alertmanager(now, {"alertname": "Mystery", "service": "no-such-thing"}))
    doc["alerts"][0]["fingerprint"] = "0123456789abcdef"  # its own alert, not a relabelling
    unmapped = orjson.dumps(doc)
    unknown_format = orjson.dumps({"hello": "world"})
    async with failing_webhook() as (hook, hits):
        config = make_config(
            kafka_broker.bootstrap,
            ACME_TOPOLOGY,
            web_enabled=True,
            web_port=port,
            notify=NotifySettings(urls=(hook,), attempts=1, timeout=5.0),
        )
        topics = topics_for(config)
        async with running(config), aiohttp.ClientSession() as session:
            await notifier_started(f"{config.app_id}-notify", config.kafka.bootstrap)

            async def impact_ready() -> tuple[bool, Samples]:
                _, now = await scrape(session, base)
                return value(now, "correlator_impact_active") == 1, now

            await wait_for(impact_ready, 30, "the impact stage never rebuilt its state")
            content_type, before = await scrape(session, base)
            assert content_type.startswith("text/plain; version=0.0.4")
            assert total(before, "correlator_alerts_received_total") == 0
            assert total(before, "correlator_open_incidents") == 0

            for body in (incident, unmapped, unknown_format):
                async with session.post(f"{base}/ingest", data=body) as response:
                    assert response.status == 202
            # Not JSON at all: only a producer writing straight to Kafka can send this.
            await produce(config.kafka.bootstrap, topics.raw, [b"\x00not json"])

            async def moved() -> tuple[bool, Samples]:
                _, now = await scrape(session, base)
                done = (
                    value(now, "correlator_alerts_unmapped_total") == 1
                    and total(now, "correlator_open_incidents") == 1
                    and total(now, "correlator_notifications_total", outcome="failed") == 1
                    and total(now, "correlator_dead_letters_total") == 2
                )
                return done, now

            _, after = await wait_for(moved, 30, "the metrics did not move")
            summary = next(iter((await latest(config, topics.summary)).values()))

    fmt = decode_payload(incident, 0).format
    assert fmt == "alertmanager"
    assert value(after, "correlator_alerts_received_total", format="alertmanager") == 2
    assert value(after, "correlator_payloads_received_total") == 4
    dead = {dict(ls)["reason"]: v for (n, ls), v in after.items() if n == DEAD}
    assert dead == {"unknown_format": 1.0, "not_json": 1.0}
    # The gauges are the impact stage's figures, as published on impact.summary.
    assert value(after, "correlator_customers_affected") == summary["customers_affected"] > 0
    assert value(after, "correlator_customers_total") == summary["customers_total"]
    assert value(after, "correlator_customers_affected_planned") == 0
    opened = await _only_open_severity(config)
    assert value(after, "correlator_open_incidents", severity=opened, planned="false") == 1
    # Every stage handled something, and its time was observed.
    for stage in ("ingest", "alert_state", "health", "impact"):
        assert value(after, "correlator_stage_processing_seconds_count", stage=stage) > 0, stage
    assert value(after, "correlator_impact_evaluation_seconds_count") > 0
    lags = {dict(ls)["stage"] for (n, ls), _ in after.items() if n == "correlator_consumer_lag"}
    assert lags == {"ingest", "alert_state", "health", "impact"}
    assert value(after, "correlator_broker_up") == 1
    assert hits == [500]
    # The example dashboard and alert rules only query what a worker exports.
    exported = {name for name, _ in after}
    assert monitoring_metric_names() <= exported, monitoring_metric_names() - exported
    webhook = f"0 http://127.0.0.1:{hook.split(':')[2].split('/')[0]}"
    assert value(after, "correlator_notifications_total", webhook=webhook, outcome="failed") == 1


def monitoring_metric_names() -> set[str]:
    """Every correlator metric the example dashboard and alert rules query."""
    dashboard = orjson.loads((MONITORING / "grafana-dashboard.json").read_bytes())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((MONITORING / "prometheus-rules.yaml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert len(exprs) > 15
    return {name for e in exprs for name in re.findall(r"\bcorrelator_[a-z_]+", e)}


async def _only_open_severity(config: Any) -> str:
    snapshots = (await latest(config, topics_for(config).incidents)).values()
    (severity,) = [s["severity"] for s in snapshots if s["status"] == "open"]
    return str(severity)


def test_dead_letter_reasons_fall_into_few_classes() -> None:
    reasons = {
        "payload is 2000000 bytes, over the 1048576-byte limit": "too_large",
        "empty payload": "empty",
        "invalid JSON: unexpected character: line 1 column 1 (char 0)": "not_json",
        "payload is not valid UTF-8 (byte 0xff at offset 0)": "not_json",
        "unknown alert format: a JSON object with keys hello (supported: …)": "unknown_format",
        "a correlator topology, not an alert payload": "unknown_format",
        "alertmanager alerts[0]: startsAt is out of range (before 1970 or after 9999)": (
            "invalid_time"
        ),
        "alertmanager alerts[0]: labels must be a JSON object, got string": "invalid_alert",
        "internal error while decoding: KeyError: 'x'": "internal_error",
    }
    assert {r: reason_class(r) for r in reasons} == reasons


def test_each_worker_has_its_own_registry() -> None:
    a, b = WorkerMetrics(), WorkerMetrics()
    a.unmapped.inc(3)
    assert value(parse(a.exposition().decode()), "correlator_alerts_unmapped_total") == 3
    assert value(parse(b.exposition().decode()), "correlator_alerts_unmapped_total") == 0
