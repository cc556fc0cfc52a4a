"""The war room against a secured cluster: the session broker's SASL_PLAINTEXT (PLAIN)
listener. The feed is built as `correlator warroom` builds it, from the `CORRELATOR_*`
variables a responder shares with the worker; the right password shows the incidents and
acknowledges over SASL, a wrong one says so in the header."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from test_warroom_kafka import wait_until
from warroom_records import NOW, snapshot

from correlator.broker import KafkaBroker, TopicSpec, ensure_topics
from correlator.cli import build_parser
from correlator.commands.warroom import build_feed
from correlator.records import TOPIC_INCIDENT_ACTIONS, TOPIC_INCIDENTS
from tui.app import WarRoomApp
from tui.feeds import KafkaFeed
from tui.widgets.connection_indicator import ConnectionIndicator
from tui.widgets.incident_table import IncidentTable

pytestmark = pytest.mark.kafka

USER, PASSWORD = "responder", "responder-secret"  # tests/conftest.py SASL_USERS


def secured_feed(
    monkeypatch: pytest.MonkeyPatch, broker: KafkaBroker, prefix: str, password: str
) -> KafkaFeed:
    """`correlator warroom --prefix P` with the cluster settings in the environment."""
    monkeypatch.setenv("CORRELATOR_BROKER", broker.sasl_connection(USER, password).bootstrap)
    monkeypatch.setenv("CORRELATOR_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("CORRELATOR_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("CORRELATOR_SASL_USERNAME", USER)
    monkeypatch.setenv("CORRELATOR_SASL_PASSWORD", password)
    monkeypatch.delenv("CORRELATOR_SSL_CAFILE", raising=False)
    feed = build_feed(build_parser().parse_args(["warroom", "--prefix", prefix]))
    assert isinstance(feed, KafkaFeed)
    return feed


async def test_war_room_reads_and_acknowledges_over_sasl(
    kafka_broker: KafkaBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"sasl-{uuid.uuid4().hex[:8]}."
    secured = kafka_broker.sasl_connection(USER, PASSWORD)
    incidents, actions = prefix + TOPIC_INCIDENTS, prefix + TOPIC_INCIDENT_ACTIONS
    # Topic creation and the fixture's producer go through the SASL listener too.
    await ensure_topics(secured, [TopicSpec(incidents, compacted=True), TopicSpec(actions)])
    producer = secured.producer()
    await producer.start()
    try:
        value = orjson.dumps(snapshot("inc-s1", 1, customers=321))
        await producer.send_and_wait(incidents, value, key=b"inc-s1")
    finally:
        await producer.stop()

    feed = secured_feed(monkeypatch, kafka_broker, prefix, PASSWORD)
    assert feed.description == f"kafka {secured.bootstrap} (SASL_PLAINTEXT as responder)"
    app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one(IncidentTable)
        await wait_until(pilot, lambda: [str(r.value) for r in table.rows] == ["inc-s1"])
        assert feed.connected
        await pilot.press("a")
        await wait_until(pilot, lambda: "inc-s1" in app.state.pending_acks)

    # Read back on the PLAINTEXT listener: the acknowledgement reached the topic.
    reader = kafka_broker.connection.consumer(actions, auto_offset_reset="earliest")
    await reader.start()
    try:
        message = await asyncio.wait_for(reader.getone(), 30)
    finally:
        await reader.stop()
    ack = orjson.loads(message.value)
    assert (message.key, ack["type"], ack["incident"], ack["by"]) == (
        b"inc-s1",
        "ack",
        "inc-s1",
        "sam",
    )


async def test_a_wrong_password_says_so_in_the_header_and_keeps_retrying(
    kafka_broker: KafkaBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = secured_feed(monkeypatch, kafka_broker, "sasl-wrong.", "not-the-password")
    server = feed.bootstrap
    app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
    async with app.run_test(size=(200, 30)) as pilot:
        indicator = app.screen.query_one(ConnectionIndicator)
        wanted = (
            f"● {server} refused the credentials of 'responder' (PLAIN): Authentication "
            "failed: Invalid username or password — retrying"
        )
        await wait_until(pilot, lambda: indicator.render().plain == wanted)
        assert not feed.connected
        assert app.link == "connecting"
