"""Topic specs that depend on the worker's settings."""

from __future__ import annotations

from correlator.stream.config import WorkerConfig
from correlator.stream.topics import raw_max_message_bytes, topic_specs, topics_for


def test_raw_topic_fits_a_payload_at_the_limit() -> None:
    config = WorkerConfig(max_payload_bytes=1_048_576)
    raw = next(s for s in topic_specs(config) if s.name == topics_for(config).raw)
    assert int(raw.configs()["max.message.bytes"]) == 2 * 1_048_576
    assert raw_max_message_bytes(config) >= config.max_payload_bytes + 65536
    small = WorkerConfig(max_payload_bytes=1000)
    assert raw_max_message_bytes(small) >= 1000 + 65536
