"""Which input partitions this worker holds right now, and keeping a stage's state in step
with them across rebalances.

Four rules (issue 9, each a way a rebalance lost or reordered records before):
- a partition's state is dropped only once the event in progress has finished, table writes
  included, and those writes are flushed before Faust recovers the tables (`on_revoked`);
- an event fetched before the latest rebalance is never applied nor acknowledged (`stale`): its
  partition is read again from the committed offset, in order;
- a partition is rebuilt from its table only when the tables of the current assignment are
  recovered (`recovered`), never from a table still being read;
- of a partition's records only the next one is applied, from the group's committed offset on
  (`correlator.stream.positions`): Faust may lose or repeat records around an assignment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from correlator.stream.positions import InputPositions


def assigned(app: Any, topic: str) -> set[int]:
    """Partitions of `topic` assigned to this worker (empty before the first rebalance)."""
    try:
        tps = app.consumer.assignment()
    except Exception:  # the consumer is not started yet
        return set()
    return {tp.partition for tp in tps if tp.topic == topic}


def recovered(app: Any) -> bool:
    """True once the tables of the current assignment are recovered. Faust's
    `recovery.completed` stays set after the first recovery, also while a later rebalance
    reads the changelogs of newly assigned partitions: a rebuild then would see a table half
    read (alerts missing, so their resolves would be ignored)."""
    try:
        return bool(app.tables.recovery.completed.is_set()) and not app.rebalancing
    except Exception:
        return False


def stale(app: Any, event: Any) -> bool:
    """The event was fetched before the latest rebalance. Its partition's state has been
    dropped since and the record is read again from the committed offset: applying this copy
    would apply it out of order, acknowledging it would let the commit pass records that the
    new state has not applied."""
    current: int | None = app.consumer_generation_id
    generation: int | None = event.message.generation_id
    return generation != current


def skip_stale(event: Any) -> None:
    """Never acknowledge a stale event (its next delivery is the one that counts)."""
    event.message.incref()


async def apply_in_turn(
    app: Any,
    stream: Any,
    busy: asyncio.Lock,
    positions: InputPositions,
    apply: Callable[[Any], Awaitable[None]],
) -> None:
    """A stage's agent loop: one event at a time under `busy` (a revocation waits for it),
    stale events skipped unacknowledged, and of the others only the next record of each
    partition (`positions`) given to `apply`: a repeat or a record past a lost one is dropped
    (and the partition read again from the expected offset)."""
    async for event in stream.events():
        async with busy:
            if stale(app, event):
                skip_stale(event)
                continue
            if not await positions.admit(event, assigned(app, positions.topic)):
                continue
            if stale(app, event):  # a rebalance began while the positions were read
                skip_stale(event)
                continue
            await apply(event)
            positions.applied(event)


def on_revoked(
    app: Any, topic: str, drop: Callable[[int], None], busy: asyncio.Lock | None = None
) -> None:
    """Call `drop(partition)` for each partition of `topic` this worker loses, once the event
    in progress (holding `busy`) has finished; then flush the producer, so that its table
    writes are in the changelog before table recovery reads it to its end."""

    async def _revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        mine = [tp.partition for tp in revoked if tp.topic == topic]
        if not mine:
            return
        if busy is None:
            for partition in mine:
                drop(partition)
            return
        async with busy:
            for partition in mine:
                drop(partition)
        await app.producer.flush()

    app.on_partitions_revoked.connect(_revoked, weak=False)


def drop_partition(parts: dict[int, Any], partition: int) -> None:
    """Forget a revoked partition's state; it is rebuilt from its table if it comes back."""
    parts.pop(partition, None)
