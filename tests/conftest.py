"""Fixtures shared by every test folder: the real Apache Kafka broker for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from correlator.broker import KafkaBroker
from correlator.errors import BrokerError


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """One real Kafka broker for the whole session; `kafka_broker.bootstrap` is its address.

    Without Java, Maven or network it is skipped locally, but with `CORRELATOR_CI` set (as
    `.ci/run` does) the tests that need it fail instead: CI never skips them.
    """
    broker = KafkaBroker()
    try:
        broker.start()
    except BrokerError as exc:
        if os.environ.get("CORRELATOR_CI"):
            pytest.fail(f"the Kafka broker did not start (CORRELATOR_CI is set): {exc}")
        pytest.skip(f"the Kafka broker did not start: {exc}")
    try:
        yield broker
    finally:
        broker.stop()
