"""Fixtures shared by every test folder: the real Apache Kafka broker for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from correlator.broker import KafkaBroker
from correlator.errors import BrokerError

SASL_USERS = {"responder": "responder-secret"}
"""Accounts on the session broker's SASL_PLAINTEXT listener."""


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """One real Kafka broker for the whole session; `kafka_broker.bootstrap` is its address.

    Besides its PLAINTEXT listener it has a SASL_PLAINTEXT (PLAIN) one for `SASL_USERS`
    (`kafka_broker.sasl_connection(name, password)`), so secured clients are tested against a
    real broker without starting a second one.

    Without Java, Maven or network it is skipped locally, but with `CORRELATOR_CI` set (as
    `.ci/run` does) the tests that need it fail instead: CI never skips them.
    """
    broker = KafkaBroker(sasl_users=SASL_USERS)
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
