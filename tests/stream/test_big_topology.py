"""A large topology goes through the `topology` topic whole (real broker).

A 10,000-component topology is about 1.8 MB of YAML, over Kafka's 1 MB default message size:
the worker failed at start publishing it. The topic now allows large records and the record is
compressed.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from worker_harness import make_config

from correlator.broker import KafkaBroker
from correlator.core.topology_parse import parse_topology
from correlator.stream.app import prepare
from correlator.stream.topology import latest_published, publish_topology
from correlator.synthetic import generate_topology


async def test_a_ten_thousand_component_topology_is_published_and_read_back(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    document = generate_topology(10_000, seed=1)
    text = yaml.safe_dump(document, sort_keys=False)
    assert len(text.encode()) > 1024 * 1024  # over Kafka's default message size
    path = tmp_path / "big.yaml"
    path.write_text(text)
    topology = parse_topology(document, str(path))
    config = make_config(kafka_broker.bootstrap, path)
    await prepare(config)  # creates the topics and publishes the starting topology
    await publish_topology(config, topology, text, str(path))
    found = await latest_published(config)
    assert found is not None
    published, published_text = found
    assert published.version == topology.version
    assert published_text == text
    assert len(published.nodes) == 10_500
