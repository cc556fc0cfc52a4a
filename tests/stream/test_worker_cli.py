"""`correlator worker` and `correlator topology publish` as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest
from worker_harness import ACME_TOPOLOGY, SCENARIOS, latest, produce, wait_for

from correlator.broker import KafkaBroker
from correlator.kafka_connection import KafkaConnection
from correlator.stream.config import WorkerConfig
from correlator.stream.topics import topics_for
from correlator.topology_files import load_topology


def correlator(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "correlator", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_bad_topology_is_one_line() -> None:
    result = correlator("worker", "--topology", "/nonexistent.yaml")
    assert (result.returncode, result.stdout) == (2, "")
    assert (
        result.stderr
        == "correlator: error: /nonexistent.yaml: cannot read: No such file or directory\n"
    )


def test_unreachable_broker_is_one_line() -> None:
    result = correlator(
        "worker", "--topology", str(ACME_TOPOLOGY), env={"CORRELATOR_BROKER": "127.0.0.1:1"}
    )
    assert result.returncode == 2
    assert result.stderr.startswith("correlator: error: cannot create topics on 127.0.0.1:1")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_flag_is_one_line() -> None:
    result = correlator("worker", "--tick-interval", "soon")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("correlator worker: error: argument")


@pytest.mark.kafka
async def test_worker_runs_publishes_and_stops_on_sigterm(kafka_broker: KafkaBroker) -> None:
    prefix = f"cli{uuid.uuid4().hex[:6]}."
    env = {"CORRELATOR_BROKER": kafka_broker.bootstrap, "CORRELATOR_PREFIX": prefix}
    published = correlator("topology", "publish", str(ACME_TOPOLOGY), env=env)
    version = load_topology(ACME_TOPOLOGY).version
    assert published.returncode == 0, published.stderr
    assert published.stdout == (
        f"{ACME_TOPOLOGY}: published acme-shop version {version} to {prefix}topology\n"
    )
    config = WorkerConfig(kafka=KafkaConnection(kafka_broker.bootstrap), topic_prefix=prefix)
    # No --topology: the worker starts with the newest published version.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "correlator",
            "worker",
            "--partitions",
            "2",
            "--tick-interval",
            "1s",
        ],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = (SCENARIOS / "acme-shop-cart-shard-down.jsonl").read_bytes().splitlines()[0]
        await wait_for(lambda: _topic_exists(config), 30, "the worker created no topics")
        await produce(kafka_broker.bootstrap, topics_for(config).raw, [line])

        async def incident() -> tuple[bool, object]:
            snaps = list((await latest(config, topics_for(config).incidents)).values())
            return len(snaps) == 1 and snaps[0]["customers_affected"] == 100_100, snaps

        _, snaps = await wait_for(incident, 60, "no incident from the worker", interval=0.5)
        assert snaps[0]["topology"]["version"] == version
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err


async def _topic_exists(config: WorkerConfig) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka.bootstrap)
    await admin.start()
    try:
        return topics_for(config).impact_input in set(await admin.list_topics())
    finally:
        await admin.close()


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--guarantee", "exactly_once"], {}), ([], {"CORRELATOR_GUARANTEE": "exactly_once"})],
)
def test_exactly_once_is_refused_in_one_line(args: list[str], env: dict[str, str]) -> None:
    result = correlator("worker", "--topology", str(ACME_TOPOLOGY), *args, env=env)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "correlator: error: --guarantee exactly_once is not supported: the pipeline is "
        "at-least-once end to end and consumers drop duplicates by seq "
        "(README: Recovery and delivery)\n"
    )
