"""The commands against a secured cluster: the session broker's SASL_PLAINTEXT (PLAIN)
listener (tests/conftest.py). With the right credentials the simulator and topology publish
deliver, and the worker's own clients and Faust app run over SASL; with wrong ones each says why
in one line and exits 2."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from correlator.broker import KafkaBroker
from correlator.cli import main
from correlator.kafka_connection import KafkaConnection
from correlator.records import TOPIC_ALERTS_RAW
from correlator.stream.config import WorkerConfig
from correlator.stream.kafka_io import read_to_end
from correlator.stream.topology import latest_published

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = str(ROOT / "topologies" / "acme-shop.yaml")
USER, PASSWORD = "responder", "responder-secret"  # tests/conftest.py SASL_USERS


def sasl_flags(broker: KafkaBroker) -> list[str]:
    """The flags a responder gives; the password comes from CORRELATOR_SASL_PASSWORD."""
    return [
        "--broker",
        broker.sasl_connection(USER, PASSWORD).bootstrap,
        "--security-protocol",
        "SASL_PLAINTEXT",
        "--sasl-mechanism",
        "PLAIN",
        "--sasl-username",
        USER,
    ]


def refused(broker: KafkaBroker) -> str:
    server = broker.sasl_connection(USER, PASSWORD).bootstrap
    return (
        f"{server} refused the credentials of 'responder' (PLAIN): Authentication failed: "
        "Invalid username or password"
    )


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The password in the environment; the commands run in this process, so the aiokafka log
    level they set (errors are reported as one line) is put back afterwards."""
    for name in ("CORRELATOR_BROKER", "CORRELATOR_SECURITY_PROTOCOL", "CORRELATOR_SSL_CAFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CORRELATOR_SASL_PASSWORD", PASSWORD)
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    try:
        yield monkeypatch
    finally:
        aiokafka_log.setLevel(level)


def test_simulate_produces_over_sasl(
    kafka_broker: KafkaBroker, password: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"sim-{uuid.uuid4().hex[:8]}."
    args = ["simulate", "--topology", TOPOLOGY, "--count", "12", "--rate", "1000"]
    assert main([*args, "--prefix", prefix, *sasl_flags(kafka_broker)]) == 0
    server = kafka_broker.sasl_connection(USER, PASSWORD).bootstrap
    assert capsys.readouterr().err == (
        f"sent 12 payloads to {prefix}{TOPIC_ALERTS_RAW} on {server} "
        "(SASL_PLAINTEXT as responder)\n"
    )
    # Read back on the PLAINTEXT listener: every payload arrived.
    plain = WorkerConfig(kafka=kafka_broker.connection)
    values = [v for _, v in asyncio.run(read_to_end(plain, f"{prefix}{TOPIC_ALERTS_RAW}"))]
    assert len(values) == 12 and all(v for v in values)


def test_simulate_with_a_wrong_password_is_one_line_exit_2(
    kafka_broker: KafkaBroker, password: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    password.setenv("CORRELATOR_SASL_PASSWORD", "wrong")
    args = ["simulate", "--topology", TOPOLOGY, "--count", "1", *sasl_flags(kafka_broker)]
    assert main(args) == 2
    server = kafka_broker.sasl_connection(USER, PASSWORD).bootstrap
    assert capsys.readouterr().err == (
        f"correlator: error: cannot reach the broker at {server} (SASL_PLAINTEXT as "
        f"responder): {refused(kafka_broker)}\n"
    )


def test_topology_publish_over_sasl(
    kafka_broker: KafkaBroker, password: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"top-{uuid.uuid4().hex[:8]}."
    flags = ["--prefix", prefix, *sasl_flags(kafka_broker)]
    assert main(["topology", "publish", TOPOLOGY, *flags]) == 0
    assert "published acme-shop version" in capsys.readouterr().out
    plain = WorkerConfig(kafka=kafka_broker.connection, topic_prefix=prefix)
    published = asyncio.run(latest_published(plain))
    assert published is not None and published[0].name == "acme-shop"


def test_topology_publish_with_a_wrong_password_is_one_line_exit_2(
    kafka_broker: KafkaBroker, password: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    password.setenv("CORRELATOR_SASL_PASSWORD", "wrong")
    assert main(["topology", "publish", TOPOLOGY, *sasl_flags(kafka_broker)]) == 2
    server = kafka_broker.sasl_connection(USER, PASSWORD).bootstrap
    *warnings, error = capsys.readouterr().err.splitlines(keepends=True)
    assert all(w.startswith("warning: ") for w in warnings)  # the topology's cycles
    assert error == (
        f"correlator: error: cannot create topics on {server} (SASL_PLAINTEXT as responder): "
        f"{refused(kafka_broker)}\n"
    )


def test_a_plaintext_client_on_the_sasl_listener_is_told_why(kafka_broker: KafkaBroker) -> None:
    server = kafka_broker.sasl_connection(USER, PASSWORD).bootstrap
    problem = asyncio.run(KafkaConnection(server).diagnose())
    assert problem is not None and not problem.unreachable
    assert problem.message.startswith(f"{server} closed the connection (")
    assert problem.message.endswith("): does its listener expect --security-protocol PLAINTEXT?")
