"""The webhook ingress on the worker's web server, against the real Kafka broker: Alertmanager
posts straight to `/ingest`, the envelope lands on alerts.raw and becomes an incident; tokens,
limits, bad bodies and `/health`."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from worker_harness import ACME_TOPOLOGY, make_config, records, running, wait_for

from correlator.adapters import FORMATS
from correlator.broker import KafkaBroker
from correlator.core.timefmt import format_time, parse_time
from correlator.stream.topics import topics_for

FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "fixtures"
JSON = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alertmanager(starts_at: str, labels: dict[str, str] | None = None) -> bytes:
    """The Alertmanager fixture starting at `starts_at` (near the time it is sent, as a live
    sender's would be), optionally relabelled."""
    doc = orjson.loads((FIXTURES / "alertmanager-1.json").read_bytes())
    alert = doc["alerts"][0]
    alert["startsAt"] = starts_at
    if labels is not None:
        alert["labels"] = labels
        alert["fingerprint"] = "b37a0acbcccfdfed"
    return orjson.dumps(doc)


CART_DB_DOWN = {  # a component of acme-shop: cart-db-2
    "alertname": "PostgresInstanceDown",
    "instance": "cart-db-2.db.acme.internal:9187",
    "job": "postgres-exporter",
    "severity": "critical",
}


async def post(
    session: aiohttp.ClientSession, url: str, data: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    async with session.post(url, data=data, headers={**JSON, **(headers or {})}) as response:
        return response.status, await response.json()


async def chunks(total: int) -> AsyncIterator[bytes]:
    yield b'{"junk": "'
    for _ in range(total // 65536):
        yield b"x" * 65536
    yield b'"}'


@pytest.mark.kafka
async def test_alertmanager_post_becomes_an_incident_and_bad_requests_are_refused(
    kafka_broker: KafkaBroker,
) -> None:
    port = free_port()
    config = make_config(kafka_broker.bootstrap, ACME_TOPOLOGY, web_enabled=True, web_port=port)
    topics = topics_for(config)
    base = f"http://127.0.0.1:{port}"
    limit = config.max_payload_bytes
    now = format_time(int(time.time() * 1000))
    body = alertmanager(now, CART_DB_DOWN)
    fixture = alertmanager(now)  # labels that match no component of acme-shop
    near_limit = b'{"junk": "' + b"x" * (limit - 100) + b'"}'
    async with running(config) as app, aiohttp.ClientSession() as session:
        before = int(time.time() * 1000)
        assert await post(session, f"{base}/ingest", body) == (202, {"accepted": True})
        assert await post(session, f"{base}/ingest/alertmanager", fixture) == (
            202,
            {"accepted": True},
        )
        after = int(time.time() * 1000)

        async def opened() -> tuple[bool, Any]:
            events = await records(config, topics.events)
            return [e["type"] for e in events] == ["incident.opened"], events

        _, [event] = await wait_for(opened, 30, "no incident from the posted alert")
        assert event["incident"]["root_causes"] == ["cart-db-2"]
        unmapped = await wait_for(
            lambda: _nonempty(records(config, topics.unmapped)), 30, "nothing unmapped"
        )
        assert [u["alert"]["fingerprint"] for u in unmapped[1]] == ["1a30ba71cca2921f"]

        refused = [
            (b"", 400, "empty body: expected a JSON alert payload"),
            (b"  \n", 400, "empty body: expected a JSON alert payload"),
            (b'{"status": "firing",', 400, "body is not valid JSON: "),
            (b"x" * (limit + 1), 413, f"body larger than the limit of {limit} bytes"),
            (chunks(limit + 65536), 413, f"body larger than the limit of {limit} bytes"),
        ]
        for data, status, reason in refused:
            got_status, got = await post(session, f"{base}/ingest", data)
            assert (got_status, got["error"][: len(reason)]) == (status, reason)
        status, got = await post(session, f"{base}/ingest/nosuchformat", fixture)
        formats = ", ".join(sorted(FORMATS))
        assert (status, got) == (404, {"error": f"unknown format 'nosuchformat': one of {formats}"})
        assert await post(session, f"{base}/ingest", near_limit) == (202, {"accepted": True})

        async def caught_up() -> tuple[bool, Any]:
            async with session.get(f"{base}/health") as response:
                doc = await response.json()
                return response.status == 200 and doc["consumer_lag"]["total"] == 0, doc

        _, health = await wait_for(caught_up, 30, "ingest never caught up")
        group = config.app_id
        assert health == {
            "status": "ok",
            "broker": "connected",
            "consumer_lag": {"topic": topics.raw, "partitions": {"0": 0, "1": 0}, "total": 0},
            "ingest_lag_seconds": 0.0,
            "stages": health["stages"],  # committed offsets trail processing: checked below
            "ingress": {
                "accepting": True,
                "in_flight": {"requests": 0, "bytes": 0},
                "limits": {"requests": 256, "bytes": 64 * 1_048_576},
                "refused": {"busy": 0, "broker_unavailable": 0},
            },
        }

        async def committed() -> tuple[bool, Any]:
            async with session.get(f"{base}/health") as response:
                stages = (await response.json())["stages"]
                return all(s["lag"] == 0 for s in stages.values()), stages

        _, stages = await wait_for(committed, 30, "the stages never committed their input")
        assert stages == {
            "ingest": {"group": f"{group}-ingest", "topic": topics.raw, "lag": 0},
            "alert_state": {"group": group, "topic": topics.keyed, "lag": 0},
            "health": {"group": group, "topic": topics.transitions, "lag": 0},
            "impact": {"group": group, "topic": topics.impact_input, "lag": 0},
        }
        assert app.correlator.counters["ingress.accepted"] == 3

    raw = await records(config, topics.raw)  # two partitions: the order between them varies
    assert sorted(((r["format"], r["payload"]) for r in raw), key=repr) == sorted(
        [
            (None, orjson.loads(body)),
            ("alertmanager", orjson.loads(fixture)),
            (None, orjson.loads(near_limit)),
        ],
        key=repr,
    )
    for r in raw:
        assert r.keys() == {"received_at", "format", "payload"}
        assert before <= parse_time(r["received_at"]) <= int(time.time() * 1000)
        if r["format"] == "alertmanager":
            assert parse_time(r["received_at"]) <= after


async def _nonempty(pending: Any) -> tuple[bool, Any]:
    got = await pending
    return bool(got), got


@pytest.mark.kafka
async def test_token_is_required_when_configured(kafka_broker: KafkaBroker) -> None:
    port = free_port()
    config = make_config(
        kafka_broker.bootstrap,
        ACME_TOPOLOGY,
        web_enabled=True,
        web_port=port,
        ingest_token="s3cret-token",
    )
    url = f"http://127.0.0.1:{port}/ingest"
    fixture = (FIXTURES / "alertmanager-1.json").read_bytes()
    async with running(config), aiohttp.ClientSession() as session:
        cases = [
            ({}, 401, "a bearer token is required", 'Bearer realm="correlator"'),
            (
                {"Authorization": "Basic czNjcmV0"},
                401,
                "a bearer token is required",
                'Bearer realm="correlator"',
            ),
            (
                {"Authorization": "Bearer s3cret-tokeN"},
                401,
                "invalid bearer token",
                'Bearer realm="correlator", error="invalid_token"',
            ),
        ]
        for headers, status, reason, challenge in cases:
            async with session.post(url, data=fixture, headers={**JSON, **headers}) as response:
                assert (response.status, await response.json()) == (status, {"error": reason})
                assert response.headers["WWW-Authenticate"] == challenge
        # Refused before anything else is looked at: no hint that the format is unknown.
        assert (await post(session, f"{url}/nosuchformat", fixture))[0] == 401
        authorized = {"Authorization": "Bearer s3cret-token"}
        assert await post(session, url, fixture, authorized) == (202, {"accepted": True})
        async with session.get(f"http://127.0.0.1:{port}/health") as response:
            assert response.status == 200  # probes need no token
    assert [r["payload"] for r in await records(config, topics_for(config).raw)] == [
        orjson.loads(fixture)
    ]
