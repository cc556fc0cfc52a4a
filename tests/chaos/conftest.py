"""Fixtures for the chaos scenarios: a broker of their own that may be stopped and restarted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from correlator.broker import KafkaBroker
from correlator.broker.process import free_port
from correlator.errors import BrokerError


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker only this test uses, on a fixed port and data dir so it can be restarted (the
    session broker must never be stopped under other tests)."""
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
