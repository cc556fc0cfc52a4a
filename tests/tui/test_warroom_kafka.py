"""The war room on a real Kafka broker: records produced to the topics become rows, and
acknowledgements land on `incident.actions`."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from textual.pilot import Pilot
from warroom_records import NOW, at, snapshot, summary

from correlator.broker.process import free_port
from correlator.broker.topics import TopicSpec, ensure_topics
from correlator.kafka_connection import KafkaConnection
from correlator.records import (
    TOPIC_ALERTS_UNMAPPED,
    TOPIC_IMPACT_SUMMARY,
    TOPIC_INCIDENT_ACTIONS,
    TOPIC_INCIDENT_EVENTS,
    TOPIC_INCIDENTS,
    TOPIC_SERVICE_IMPACT,
    Record,
)
from tui.app import WarRoomApp
from tui.feeds import KafkaFeed
from tui.screens.board import BoardScreen
from tui.widgets.connection_indicator import ConnectionIndicator
from tui.widgets.incident_table import IncidentTable
from tui.widgets.maintenance_banner import MaintenanceBanner

pytestmark = pytest.mark.kafka


async def wait_until(pilot: Pilot[None], check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            app = pilot.app
            assert isinstance(app, WarRoomApp)
            seqs = {k: v["seq"] for k, v in app.state.incidents.items()}
            table = app.screen.query_one(IncidentTable)
            shown = {str(k.value): [c.plain for c in table.get_row(k)] for k in table.rows}
            raise AssertionError(f"timed out waiting for the war room: {seqs}, shown {shown}")
        await pilot.pause(0.1)


async def test_records_on_the_topics_become_rows_and_update(kafka_broker: object) -> None:
    bootstrap: str = kafka_broker.bootstrap  # type: ignore[attr-defined]
    prefix = f"wr-{uuid.uuid4().hex[:8]}."
    compacted = {TOPIC_INCIDENTS, TOPIC_SERVICE_IMPACT, TOPIC_IMPACT_SUMMARY}
    await ensure_topics(
        KafkaConnection(bootstrap),
        [
            TopicSpec(prefix + t, compacted=t in compacted)
            for t in (
                TOPIC_INCIDENTS,
                TOPIC_INCIDENT_EVENTS,
                TOPIC_SERVICE_IMPACT,
                TOPIC_IMPACT_SUMMARY,
                TOPIC_ALERTS_UNMAPPED,
                TOPIC_INCIDENT_ACTIONS,
            )
        ],
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()

    async def produce(record: Record) -> None:
        value = None if record.value is None else orjson.dumps(record.value)
        await producer.send_and_wait(prefix + record.topic, value, key=record.key.encode())

    try:
        # Already on the compacted topics before the war room starts: read from the beginning.
        await produce(Record(TOPIC_INCIDENTS, "inc-k1", snapshot("inc-k1", 1, customers=100)))
        await produce(summary(100))
        feed = KafkaFeed(KafkaConnection(bootstrap), prefix, backoff_initial=0.2)
        app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
        async with app.run_test(size=(100, 30)) as pilot:
            table = app.screen.query_one(IncidentTable)

            def rows() -> list[str]:
                return [str(r.value) for r in table.rows]

            await wait_until(pilot, lambda: rows() == ["inc-k1"])
            assert feed.connected
            assert app.state.summary is not None
            # Followed live: a newer snapshot updates the row, an event adds one.
            await produce(Record(TOPIC_INCIDENTS, "inc-k1", snapshot("inc-k1", 2, customers=7777)))
            event = {"schema": 1, "type": "incident.opened", "seq": 1, "at": at(0)}
            event["incident"] = snapshot("inc-k2", 1, severity="SEV1", customers=50)
            await produce(Record(TOPIC_INCIDENT_EVENTS, "inc-k2", event))
            await wait_until(
                pilot,
                lambda: (
                    rows() == ["inc-k2", "inc-k1"]
                    and table.get_cell("inc-k1", "customers").plain == "7,777"
                ),
            )
            # A maintenance window declared meanwhile (`correlator maintenance add`) shows live.
            window = {
                "schema": 1,
                "type": "maintenance",
                "id": "mw-k",
                "components": ["inc-k1-db"],
                "match": [],
                "starts_at": at(5),
                "ends_at": at(-30),
                "reason": "disk swap",
                "by": "kim",
            }
            await produce(Record(TOPIC_INCIDENT_ACTIONS, "mw-k", window))
            banner = app.screen.query_one(MaintenanceBanner)
            await wait_until(pilot, lambda: "mw-k inc-k1-db ends in 30m" in banner.render().plain)
            # The selection stayed on inc-k1 when inc-k2 took the top row.
            await pilot.press("a")
            await wait_until(pilot, lambda: feed.connected and "inc-k1" in app.state.pending_acks)
        actions = AIOKafkaConsumer(
            prefix + TOPIC_INCIDENT_ACTIONS,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await actions.start()
        try:
            message = await asyncio.wait_for(actions.getone(), 30)
            while orjson.loads(message.value)["type"] != "ack":  # the window went first
                message = await asyncio.wait_for(actions.getone(), 30)
        finally:
            await actions.stop()
        ack = orjson.loads(message.value)
        assert message.key == b"inc-k1"
        assert {k: ack[k] for k in ("schema", "type", "incident", "by")} == {
            "schema": 1,
            "type": "ack",
            "incident": "inc-k1",
            "by": "sam",
        }
    finally:
        await producer.stop()


async def test_no_broker_says_so_in_the_header_and_keeps_retrying() -> None:
    port = free_port()  # nothing listens there
    feed = KafkaFeed(
        KafkaConnection(f"127.0.0.1:{port}"), "", backoff_initial=0.1, request_timeout_s=1
    )
    app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
    async with app.run_test(size=(100, 30)) as pilot:
        indicator = app.screen.query_one(ConnectionIndicator)
        wanted = f"● no broker at 127.0.0.1:{port} — retrying"
        await wait_until(pilot, lambda: indicator.render().plain == wanted)
        assert not feed.connected
        assert app.link == "connecting"
        await pilot.press("b")  # still answering keys
        assert isinstance(app.screen, BoardScreen)


async def test_a_war_room_joining_late_reads_the_recent_incident_events(
    kafka_broker: object,
) -> None:
    """`incident.events` is read from 6 hours back, so the timeline shows how an incident got
    where it is; an event older than that is not read."""
    bootstrap: str = kafka_broker.bootstrap  # type: ignore[attr-defined]
    prefix = f"wr-{uuid.uuid4().hex[:8]}."
    await ensure_topics(
        KafkaConnection(bootstrap),
        [
            TopicSpec(prefix + TOPIC_INCIDENTS, compacted=True),
            TopicSpec(prefix + TOPIC_INCIDENT_EVENTS),
        ],
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()

    async def produce(kind: str, snap: dict[str, object], age_s: float = 0) -> None:
        value = {"schema": 1, "type": f"incident.{kind}", "seq": snap["seq"], "at": at(0)}
        value["incident"] = snap
        await producer.send_and_wait(
            prefix + TOPIC_INCIDENT_EVENTS,
            orjson.dumps(value),
            key=str(snap["id"]).encode(),
            timestamp_ms=int((time.time() - age_s) * 1000),
        )

    try:
        await produce("opened", snapshot("inc-old", 1), age_s=7 * 3600)
        await produce("opened", snapshot("inc-t1", 1, severity="SEV3", customers=10))
        await produce("updated", snapshot("inc-t1", 2, severity="SEV2", customers=90))
        feed = KafkaFeed(KafkaConnection(bootstrap), prefix, backoff_initial=0.2)
        app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(
                pilot,
                lambda: (
                    "inc-t1" in app.state.timelines
                    and len(app.state.timelines["inc-t1"].entries) == 2
                ),
            )
            entries = [(e.seq, e.kind, e.changes) for e in app.state.timelines["inc-t1"].entries]
            assert entries == [
                (1, "opened", ("SEV3", "10 customers", "root cause inc-t1-db")),
                (2, "updated", ("SEV3 → SEV2", "customers 10 → 90")),
            ]
            assert "inc-old" not in app.state.timelines
    finally:
        await producer.stop()
