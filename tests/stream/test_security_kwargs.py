"""Security settings reach every Kafka client correlator creates itself (no secured broker here:
the clients are replaced by recorders of their keyword arguments)."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiokafka
import aiokafka.admin
import pytest

from correlator.broker import TopicSpec, ensure_topics
from correlator.stream.config import KafkaSecurity, WorkerConfig
from correlator.stream.topics import raw_max_message_bytes, topic_specs, topics_for

SASL = KafkaSecurity(
    security_protocol="SASL_SSL",
    sasl_mechanism="SCRAM-SHA-512",
    sasl_username="svc",
    sasl_password="secret",
)


class _Stop(Exception):
    pass


def _recorder(calls: list[dict[str, Any]]) -> type:
    class Recorder:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            calls.append(kwargs)

        async def start(self) -> None:
            raise _Stop

        async def stop(self) -> None:
            pass

        async def close(self) -> None:
            pass

    return Recorder


def test_aiokafka_kwargs_mapping() -> None:
    kwargs = SASL.aiokafka_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "svc"
    assert kwargs["sasl_plain_password"] == "secret"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert KafkaSecurity().aiokafka_kwargs() == {"security_protocol": "PLAINTEXT"}


def test_ensure_topics_passes_security(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(aiokafka.admin, "AIOKafkaAdminClient", _recorder(calls))
    security = SASL.aiokafka_kwargs()
    with pytest.raises(Exception, match="_Stop"):
        asyncio.run(ensure_topics("broker:9093", [TopicSpec("t")], security=security))
    assert calls[0]["bootstrap_servers"] == "broker:9093"
    for key, value in security.items():
        assert calls[0][key] is value


def test_run_sink_passes_security(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from correlator.store.sink import run_sink

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", _recorder(calls))
    security = SASL.aiokafka_kwargs()
    with pytest.raises(_Stop):
        asyncio.run(
            run_sink(
                "broker:9093",
                "p.",
                f"sqlite:///{tmp_path / 'h.db'}",
                stop_event=asyncio.Event(),
                security=security,
            )
        )
    for key, value in security.items():
        assert calls[0][key] is value


def test_prepare_and_sink_use_the_worker_security(monkeypatch: pytest.MonkeyPatch) -> None:
    from correlator.stream import app as app_module

    seen: dict[str, Any] = {}

    async def fake_ensure(bootstrap: str, specs: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(app_module, "ensure_topics", fake_ensure)
    with pytest.raises(_Stop):
        asyncio.run(app_module.prepare(WorkerConfig(security=SASL)))
    assert seen["security"]["sasl_plain_username"] == "svc"
    assert seen["security"]["security_protocol"] == "SASL_SSL"


def test_raw_topic_fits_a_payload_at_the_limit() -> None:
    config = WorkerConfig(max_payload_bytes=1_048_576)
    raw = next(s for s in topic_specs(config) if s.name == topics_for(config).raw)
    assert int(raw.configs()["max.message.bytes"]) == 2 * 1_048_576
    assert raw_max_message_bytes(config) >= config.max_payload_bytes + 65536
    small = WorkerConfig(max_payload_bytes=1000)
    assert raw_max_message_bytes(small) >= 1000 + 65536
