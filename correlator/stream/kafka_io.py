"""correlator's own aiokafka clients: reading compacted topics to their end, and producers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from correlator.errors import BrokerError
from correlator.kafka_connection import MAX_RECORD_BYTES
from correlator.stream.config import WorkerConfig

TOPOLOGY_MAX_BYTES = MAX_RECORD_BYTES
"""`max.message.bytes` of the `topology` topic and the fetch size of the readers of compacted
topics: a 50,000-component topology is about 9 MB of YAML (its record is gzip-compressed too,
which brings it to about a tenth)."""


def new_producer(config: WorkerConfig, **kwargs: Any) -> Any:
    """A producer on the worker's cluster (`config.kafka`), not started."""
    return config.kafka.producer(**kwargs)


async def read_to_end(
    config: WorkerConfig, topic: str, timeout: float = 30.0
) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of `topic` (all partitions) from the beginning up to its current end."""
    from aiokafka import TopicPartition

    consumer = config.kafka.consumer(
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=TOPOLOGY_MAX_BYTES,  # big topologies, big snapshots
    )
    out: list[tuple[bytes | None, bytes | None]] = []
    try:
        await consumer.start()
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise BrokerError(f"timed out reading {topic} to its end")
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, messages in batches.items():
                out.extend((m.key, m.value) for m in messages)
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    except BrokerError:
        raise
    except Exception as exc:
        raise BrokerError(f"cannot read {topic} from {config.kafka.bootstrap}: {exc!r}") from exc
    finally:
        await consumer.stop()
    return out


def latest_by_key(records: list[tuple[bytes | None, bytes | None]]) -> dict[bytes, bytes]:
    """What a compacted topic says: the newest value per key, tombstones removed."""
    latest: dict[bytes, bytes | None] = {}
    for key, value in records:
        if key is not None:
            latest[key] = value
    return {k: v for k, v in latest.items() if v is not None}


async def gather_sends(futures: list[Any]) -> None:
    """Wait until every send is acknowledged by the broker."""
    if futures:
        await asyncio.gather(*futures)


async def committed_offset(config: WorkerConfig, group: str, topic: str, partition: int) -> int:
    """The offset consumer group `group` resumes `topic`/`partition` from (0 when nothing is
    committed: the stages start from the earliest record). Asking joins no group."""
    from aiokafka import TopicPartition

    consumer = config.kafka.consumer(group_id=group, enable_auto_commit=False)
    try:
        await consumer.start()
        offset = await consumer.committed(TopicPartition(topic, partition))
    except Exception as exc:
        raise BrokerError(f"cannot read the offsets of {group} on {topic}: {exc!r}") from exc
    finally:
        await consumer.stop()
    return offset or 0


async def start_offsets(
    config: WorkerConfig, group: str, topic: str, partitions: set[int]
) -> dict[int, int]:
    """Per partition of `topic`, the offset consumer group `group` resumes from: its committed
    offset, or the earliest offset kept when nothing is committed or retention deleted past
    it. Asking joins no group."""
    from aiokafka import TopicPartition

    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer = config.kafka.consumer(group_id=group, enable_auto_commit=False)
    try:
        await consumer.start()
        earliest = await consumer.beginning_offsets(tps)
        out = {}
        for tp in tps:
            committed = await consumer.committed(tp)
            out[tp.partition] = max(committed or 0, earliest[tp])
    except Exception as exc:
        raise BrokerError(f"cannot read the offsets of {group} on {topic}: {exc!r}") from exc
    finally:
        await consumer.stop()
    return out


async def read_until(
    config: WorkerConfig,
    topic: str,
    partition: int,
    end: int,
    timeout: float = 60.0,
    start: int = 0,
) -> tuple[int, list[tuple[bytes | None, int]]]:
    """The values and timestamps (ms) of one partition's records from offset `start` (or the
    earliest kept) up to `end`, and the earliest offset still kept (above 0 when retention has
    deleted the oldest records)."""
    from aiokafka import TopicPartition

    tp = TopicPartition(topic, partition)
    consumer = config.kafka.consumer(enable_auto_commit=False, auto_offset_reset="earliest")
    out: list[tuple[bytes | None, int]] = []
    try:
        await consumer.start()
        consumer.assign([tp])
        earliest = (await consumer.beginning_offsets([tp]))[tp]
        if start > earliest:
            consumer.seek(tp, start)
        else:
            await consumer.seek_to_beginning(tp)
        deadline = time.monotonic() + timeout
        while await consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise BrokerError(f"timed out reading {topic} up to offset {end}")
            batches = await consumer.getmany(tp, timeout_ms=500)
            for message in batches.get(tp, []):
                if message.offset < end:
                    out.append((message.value, message.timestamp))
    except BrokerError:
        raise
    except Exception as exc:
        raise BrokerError(f"cannot read {topic} from {config.kafka.bootstrap}: {exc!r}") from exc
    finally:
        await consumer.stop()
    return earliest, out
