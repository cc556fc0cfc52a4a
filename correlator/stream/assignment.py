"""Which input partitions this worker holds right now, and dropping state on revocation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def assigned(app: Any, topic: str) -> set[int]:
    """Partitions of `topic` assigned to this worker (empty before the first rebalance)."""
    try:
        tps = app.consumer.assignment()
    except Exception:  # the consumer is not started yet
        return set()
    return {tp.partition for tp in tps if tp.topic == topic}


def recovered(app: Any) -> bool:
    """True once table recovery has finished (agents only see events after that)."""
    try:
        return bool(app.tables.recovery.completed.is_set())
    except Exception:
        return False


def on_revoked(app: Any, topic: str, drop: Callable[[int], None]) -> None:
    """Call `drop(partition)` for each partition of `topic` this worker loses."""

    async def _revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        for tp in revoked:
            if tp.topic == topic:
                drop(tp.partition)

    app.on_partitions_revoked.connect(_revoked, weak=False)


def drop_partition(parts: dict[int, Any], partition: int) -> None:
    """Forget a revoked partition's state; it is rebuilt from its table if it comes back."""
    parts.pop(partition, None)
