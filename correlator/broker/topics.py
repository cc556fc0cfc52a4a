"""Create topics explicitly, with their partition counts and configs, before anything uses them.

Auto-created topics get the broker's defaults (one partition on our Kafka, four on Tansu, never
compacted), so every topic correlator relies on is created here first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from correlator.errors import BrokerError
from correlator.kafka_connection import KafkaConnection, failure_reason

_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic as correlator wants it; `compacted` sets `cleanup.policy=compact`."""

    name: str
    partitions: int = 1
    compacted: bool = False
    config: Mapping[str, str] = field(default_factory=dict)
    replication_factor: int = 1

    def configs(self) -> dict[str, str]:
        """The topic configs sent to the broker."""
        configs = dict(self.config)
        if self.compacted:
            configs["cleanup.policy"] = "compact"
        return configs


async def ensure_topics(
    kafka: KafkaConnection, specs: Iterable[TopicSpec], timeout: float = 30.0
) -> None:
    """Create the topics that do not exist yet and wait until every one has its leaders.

    Existing topics are left as they are (their partition count and configs are not changed).
    """
    from aiokafka.admin import NewTopic

    wanted = {spec.name: spec for spec in specs}
    if not wanted:
        return
    admin = kafka.admin(request_timeout_ms=int(timeout * 1000))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [spec for name, spec in wanted.items() if name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=spec.name,
                        num_partitions=spec.partitions,
                        replication_factor=spec.replication_factor,
                        topic_configs=spec.configs(),
                    )
                    for spec in missing
                ],
                timeout_ms=int(timeout * 1000),
            )
            _raise_errors(response)
        await _wait_for_leaders(admin, wanted, time.monotonic() + timeout)
    except BrokerError:
        raise
    except Exception as exc:
        reason = await failure_reason(kafka, exc)
        raise BrokerError(f"cannot create topics on {kafka.describe()}: {reason}") from exc
    finally:
        await admin.close()


def _raise_errors(response: Any) -> None:
    problems = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        if code not in (0, _TOPIC_ALREADY_EXISTS):
            problems.append(f"{name}: error {code}{f' ({message})' if message else ''}")
    if problems:
        raise BrokerError("topic creation failed: " + "; ".join(problems))


async def _wait_for_leaders(admin: Any, wanted: Mapping[str, TopicSpec], deadline: float) -> None:
    """Creation is asynchronous on the broker: wait until metadata shows a leader per partition."""
    pending = set(wanted)
    while True:
        for topic in await admin.describe_topics(sorted(pending)):
            partitions = topic.get("partitions") or []
            if (
                topic.get("error_code", 0) == 0
                and partitions
                and all(p.get("leader", -1) >= 0 for p in partitions)
            ):
                pending.discard(topic["topic"])
        if not pending:
            return
        if time.monotonic() > deadline:
            raise BrokerError(f"topics have no leader yet: {', '.join(sorted(pending))}")
        await asyncio.sleep(0.1)
