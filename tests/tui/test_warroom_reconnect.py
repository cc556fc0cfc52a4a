"""The war room rides out a broker restart: it shows `disconnected` while Kafka is away, keeps
answering keys, and when the broker is back (same port, same data) it is `live` again, keeps what
it had and shows what was produced after the restart — also on the followed `incident.events`,
even when the record was written before the feed got round to reconnecting.

The broker is this test's own (the session one must never be stopped under other tests).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from warroom_records import NOW, at, snapshot, summary, unmapped

from correlator.broker import KafkaBroker, TopicSpec, ensure_topics
from correlator.broker.process import free_port
from correlator.errors import BrokerError
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
from tui.screens.main import MainScreen
from tui.widgets.connection_indicator import ConnectionIndicator
from tui.widgets.incident_table import IncidentTable

pytestmark = pytest.mark.kafka

PREFIX = "rc."
COMPACTED = {TOPIC_INCIDENTS, TOPIC_SERVICE_IMPACT, TOPIC_IMPACT_SUMMARY}
TOPICS = (
    TOPIC_INCIDENTS,
    TOPIC_INCIDENT_EVENTS,
    TOPIC_SERVICE_IMPACT,
    TOPIC_IMPACT_SUMMARY,
    TOPIC_ALERTS_UNMAPPED,
    TOPIC_INCIDENT_ACTIONS,
)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker only this test uses, on a fixed port and data dir so it can be restarted."""
    broker = KafkaBroker(tmp_path / "kafka", port=free_port())
    try:
        broker.start()
    except BrokerError as exc:
        broker.stop()
        if os.environ.get("CORRELATOR_CI"):
            pytest.fail(f"the Kafka broker did not start (CORRELATOR_CI is set): {exc}")
        pytest.skip(f"the Kafka broker did not start: {exc}")
    try:
        yield broker
    finally:
        broker.stop()


async def produce(bootstrap: str, *records: Record) -> None:
    """Write records with a producer of their own (a fresh one copes best with a new broker)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await asyncio.wait_for(producer.start(), 60)
    try:
        for record in records:
            value = None if record.value is None else orjson.dumps(record.value)
            send = producer.send_and_wait(PREFIX + record.topic, value, key=record.key.encode())
            await asyncio.wait_for(send, 60)
    finally:
        await producer.stop()


def opened(incident_id: str, customers: int) -> Record:
    """An `incident.opened` event, the pipeline's record on the followed topic."""
    event = {"schema": 1, "type": "incident.opened", "seq": 1, "at": at(0)}
    event["incident"] = snapshot(incident_id, 1, severity="SEV1", customers=customers)
    return Record(TOPIC_INCIDENT_EVENTS, incident_id, event)


async def test_war_room_reconnects_after_the_broker_restarts(own_broker: KafkaBroker) -> None:
    broker = own_broker
    bootstrap = broker.bootstrap
    port, data_dir = broker.port, broker.data_dir
    await ensure_topics(
        KafkaConnection(bootstrap),
        [TopicSpec(PREFIX + t, compacted=t in COMPACTED) for t in TOPICS],
    )
    # Backoff capped low so the test does not wait 30 s for a retry; a short request timeout so
    # a vanished broker is noticed at the feed's next health check.
    feed = KafkaFeed(
        KafkaConnection(bootstrap),
        PREFIX,
        backoff_initial=0.2,
        backoff_max=2.0,
        request_timeout_s=3,
    )
    app = WarRoomApp(feed, user="sam", clock=lambda: NOW, highlight_seconds=0)
    started = time.monotonic()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        table = screen.query_one(IncidentTable)
        indicator = screen.query_one(ConnectionIndicator)

        def rows() -> list[str]:
            return [str(r.value) for r in table.rows]

        async def wait_for(what: str, check: Callable[[], bool], timeout: float = 45) -> None:
            deadline = time.monotonic() + timeout
            while not check():
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"timed out after {timeout} s waiting for {what}: link {app.link!r}, "
                        f"indicator {indicator.link!r}, rows {rows()}, "
                        f"last feed error {feed.last_error!r}, broker log {broker.log_file}"
                    )
                await pilot.pause(0.1)

        # 1. Live: records produced now become rows and the header says so.
        await wait_for("the first connection", lambda: feed.connected)
        await produce(
            bootstrap,
            Record(TOPIC_INCIDENTS, "inc-r1", snapshot("inc-r1", 1, customers=100)),
            summary(100),
            unmapped({"job": "orphan"}, "fp-orphan"),
        )
        await wait_for(
            "the first row, the summary and the unmapped alert",
            lambda: (
                rows() == ["inc-r1"]
                and indicator.link == "live"
                and app.state.summary is not None
                and len(app.state.unmapped) == 1
            ),
        )
        assert app.state.applied == 3
        applied_before = app.state.applied

        # 2. The broker goes away: the header says so, the rows stay, the keys still work.
        await asyncio.to_thread(broker.stop)
        stopped = time.monotonic()
        await wait_for("disconnected", lambda: indicator.link == "disconnected", timeout=30)
        noticed = time.monotonic() - stopped
        assert app.is_running
        assert not feed.connected and feed.last_error is not None
        assert rows() == ["inc-r1"]
        await pilot.press("b")
        await wait_for("the board", lambda: isinstance(app.screen, BoardScreen), timeout=10)
        await pilot.press("b")
        await wait_for("back to the incidents", lambda: app.screen is screen, timeout=10)
        await pilot.press("s", "j", "k")
        await pilot.press("slash", "i", "n", "c", "enter", "escape")
        await wait_for(
            "the filter typed and cleared",
            lambda: app.state.filter_text == "" and isinstance(app.focused, IncidentTable),
            timeout=10,
        )
        assert app.is_running and app.screen is screen
        assert rows() == ["inc-r1"] and indicator.link == "disconnected"

        # 3. Back on the same port with the same data. A record on the followed topic, written
        # before the feed reconnects, must not be skipped; nor may anything be read twice.
        await asyncio.to_thread(broker.start)  # its port and data dir were given: reused
        restarted = time.monotonic()
        assert (broker.port, broker.data_dir) == (port, data_dir)
        await produce(bootstrap, opened("inc-r2", 5000))
        await wait_for("live again", lambda: indicator.link == "live" and feed.connected)
        reconnected = time.monotonic() - restarted
        await wait_for("the new row next to the old", lambda: rows() == ["inc-r2", "inc-r1"])
        await produce(
            bootstrap, Record(TOPIC_INCIDENTS, "inc-r1", snapshot("inc-r1", 2, customers=7777))
        )
        await wait_for(
            "the update after reconnecting",
            lambda: table.get_cell("inc-r1", "customers").plain == "7,777",
        )
        # Exactly the two records written since: nothing from before the outage came again.
        assert app.state.applied == applied_before + 2
        (group,) = app.state.unmapped.values()
        assert group.count == 1
        assert app.is_running
    print(
        f"disconnect noticed in {noticed:.1f} s, live again {reconnected:.1f} s after the "
        f"broker was back; whole test {time.monotonic() - started:.1f} s"
    )
