"""Holding a stage's inputs until they can be applied in event-time order, without losing them.

Each stage partition keeps an `EventTimeOrder` (core): inputs wait there until every upstream
partition's progress mark has passed their event time. An input record whose items still wait
stays unacknowledged (its message's reference count is raised past the batch), so Faust never
commits its offset before it was applied: a crash redelivers it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from correlator.core.stages import EventTimeOrder, Mark, Origin
from correlator.core.timefmt import Millis
from correlator.stream.context import StageContext

T = TypeVar("T")

FORWARD_EVERY = 0.25
"""Seconds between forwarded marks when the watermark did not move (a lease renewal)."""


@dataclass(slots=True, eq=False)
class Held:
    """An input record and how many of its items still wait."""

    event: Any
    waiting: int = 0
    kept: bool = False

    def keep(self) -> None:
        """Keep the record unacknowledged after the batch that brought it (until released)."""
        if self.waiting and not self.kept:
            self.kept = True
            self.event.message.incref()

    def released_one(self) -> None:
        self.waiting -= 1
        if self.waiting == 0 and self.kept:
            self.kept = False
            self.event.ack()


@dataclass(slots=True)
class _Partition(Generic[T]):
    order: EventTimeOrder[tuple[T, Held]]
    forwarded: list[tuple[int, Mark]] | None = None
    forwarded_at: float = -1e18


@dataclass(slots=True)
class OrderedInputs(Generic[T]):
    """Per stage partition: the inputs waiting for their turn and the marks to pass on."""

    parts: dict[int, _Partition[T]] = field(default_factory=dict)

    sources: int = 1
    """Upstream partitions (paths) each stage partition hears marks from."""

    def _part(self, partition: int) -> _Partition[T]:
        part = self.parts.get(partition)
        if part is None:
            part = self.parts[partition] = _Partition(EventTimeOrder(self.sources))
        return part

    def drop(self, partition: int) -> None:
        """A revoked partition: its waiting records were never acknowledged; the new owner
        reads them again."""
        self.parts.pop(partition, None)

    def push(self, partition: int, t: Millis, origin: Origin | None, item: T, held: Held) -> None:
        held.waiting += 1
        self._part(partition).order.push(t, origin, (item, held))

    def mark(
        self, partition: int, source: int, raw: int, marks: list[tuple[int, Mark]], wall: float
    ) -> None:
        self._part(partition).order.mark(source, raw, marks, wall)

    def release(self, partition: int, wall: float) -> list[tuple[T, Held]]:
        part = self.parts.get(partition)
        return [] if part is None else part.order.release(wall)

    def newest(self, partition: int) -> Millis | None:
        part = self.parts.get(partition)
        return None if part is None else part.order.newest()

    def pending(self, partition: int) -> int:
        part = self.parts.get(partition)
        return 0 if part is None else part.order.pending()

    def caught_up(self, partition: int, wall: float) -> bool:
        """Nothing waits here and nothing upstream is unread (an idle tick may run)."""
        part = self.parts.get(partition)
        if part is None:
            return False
        progress = part.order.progress(wall)
        return progress is not None and all(m.caught_up for _, m in progress)

    def idle_until(self, partition: int, wall: float) -> float:
        """How far wall time may count as idle for this partition: up to `wall`, but never
        past when its slowest upstream path was last heard from (`EventTimeOrder.heard`)."""
        part = self.parts.get(partition)
        heard = None if part is None else part.order.heard()
        return wall if heard is None else min(wall, heard)

    def raw(self, partition: int) -> int:
        part = self.parts.get(partition)
        return 0 if part is None else part.order.raw

    def to_forward(self, partition: int, wall: float) -> list[tuple[int, Mark]] | None:
        """This partition's own marks, when they moved or a renewal is due."""
        part = self.parts.get(partition)
        if part is None:
            return None
        progress = part.order.progress(wall)
        if progress is None:
            return None
        if progress == part.forwarded and wall - part.forwarded_at < FORWARD_EVERY:
            return None
        part.forwarded, part.forwarded_at = progress, wall
        return progress


def done(released: list[tuple[Any, Held]]) -> None:
    """The released items were applied and their outputs sent: acknowledge finished records."""
    for _, held in released:
        held.released_one()


async def finish(
    ctx: StageContext,
    records: list[Any],
    released: list[tuple[Any, Held]],
    held: Held,
    write_table: Callable[[], None] | None,
) -> None:
    """Send an input's outputs, then acknowledge it and the inputs it released.

    With a table to write (`write_table`), the outputs are acknowledged by the broker first and
    the table written after them: a crash in between leaves the input uncommitted, so it is
    applied (and sent) again; never the other way round. Without one (mostly marks) the next
    input need not wait for the broker: see `send_then`."""
    if write_table is None:
        await send_then(ctx, records, released, held)
        return
    await ctx.send(records)
    write_table()
    done(released)
    held.keep()


async def send_then(
    ctx: StageContext, records: list[Any], released: list[tuple[Any, Held]], held: Held
) -> None:
    """Send an input's outputs without waiting for the broker, when no table write depends on
    them: the input and the inputs it released are acknowledged once the outputs are (a crash
    before that reads them again and sends the outputs again)."""
    held.keep()
    held.event.message.incref()

    def then() -> None:
        done(released)
        held.event.ack()

    await ctx.send_then(records, then)
