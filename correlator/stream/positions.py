"""Which record of an input partition a stage applies next: strictly the next offset.

Faust 0.15.3 does not deliver a newly assigned partition's records once each and in order
(issue 9). At the end of a rebalance its recovery resumes the stream partitions *before* it
seeks them to the committed offsets (`Recovery.on_recovery_completed`); records fetched in that
window go into the stream's queue and advance the fetch loop's read offset, then
`flow_control.resume()` clears the queue (`clear_on_resume`), and the same records fetched
again after the seek are dropped as below the read offset ("DROPPED MESSAGE ROFF"). A record
lost that way is never applied by anyone: the alerts of a whole batch disappeared.

The alert-state and health stages therefore keep, per partition, the next offset to apply,
learned from the broker (the group's committed offset, never below the earliest offset kept)
when they get the partition, and apply a record iff it is that offset (`step`):
- below it: a repeat of a record applied already; dropped, never acknowledged;
- above it: records before it were lost on the way; dropped too, and the partition is sought
  back to the expected offset (once; again after `RESEEK_AFTER` if only later records come).
Faust's read offset is not used for these topics (`faust_kafka._ReadOffsets`): every fetched
record reaches the stage, which alone decides. (With it, the seek back raced the fetch in
flight: those records moved the read offset past the seek again, and the stage waited forever
for a record Faust kept dropping.)
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from correlator.errors import BrokerError
from correlator.stream.config import WorkerConfig
from correlator.stream.kafka_io import start_offsets

log = logging.getLogger("correlator.stream")

RESEEK_AFTER = 5.0
"""Seconds after a seek back before records still ahead of the expected offset seek again
(records fetched before the seek keep arriving for a moment; a seek is rarely needed twice)."""


class Step(enum.Enum):
    APPLY = "apply"
    REPEAT = "repeat"
    AHEAD = "ahead"


def step(expected: int, offset: int) -> Step:
    """What to do with the record at `offset` when the partition's next record is `expected`."""
    if offset == expected:
        return Step.APPLY
    return Step.REPEAT if offset < expected else Step.AHEAD


def disown(event: Any) -> None:
    """Never acknowledge this delivery, and keep it from holding commits back: Faust
    acknowledges every event its agent moves past (the raised reference count keeps this one
    out), and the commit rule waits for unacknowledged records of the current generation
    (this one no longer belongs to any)."""
    event.message.incref()
    event.message.generation_id = -1


@dataclass(slots=True)
class InputPositions:
    """The next offset to apply per partition of one stage's input topic (this generation)."""

    app: Any
    config: WorkerConfig
    topic: str
    expected: dict[int, int] = field(default_factory=dict)
    sought: dict[int, float] = field(default_factory=dict)
    """Partitions sought back, and when."""

    def __post_init__(self) -> None:
        in_order: set[str] | None = getattr(self.app, "in_order_topics", None)
        if in_order is not None:
            in_order.add(self.topic)

    def drop(self, partition: int) -> None:
        """A revoked partition: its position is learned again when it comes back."""
        self.expected.pop(partition, None)
        self.sought.pop(partition, None)

    async def admit(self, event: Any, partitions: set[int]) -> bool:
        """True when `event` is the next record of its partition (apply it, then `applied`).
        `partitions`: those this worker holds now, whose positions are learned together."""
        message = event.message
        partition, offset = message.partition, message.offset
        if partition not in self.expected:
            unknown = (partitions | {partition}) - self.expected.keys()
            try:
                learned = await start_offsets(self.config, self.config.app_id, self.topic, unknown)
            except BrokerError as exc:
                # Not applied: the next record asks again, finds this one missing and
                # seeks back to it.
                log.warning("%s: %s; record %d left for later", self.topic, exc, offset)
                disown(event)
                return False
            self.expected.update(learned)
            log.info("%s: applying from offsets %s", self.topic, dict(sorted(learned.items())))
        expected = self.expected[partition]
        what = step(expected, offset)
        if what is Step.APPLY:
            self.sought.pop(partition, None)
            return True
        disown(event)
        if what is Step.AHEAD:
            now = time.monotonic()
            sought = self.sought.get(partition)
            if sought is None or now - sought >= RESEEK_AFTER:
                self.sought[partition] = now
                await self._seek(partition, expected, offset)
        return False

    def applied(self, event: Any) -> None:
        message = event.message
        self.expected[message.partition] = message.offset + 1

    async def _seek(self, partition: int, expected: int, offset: int) -> None:
        from faust.types import TP

        # Expected around an assignment (Faust resumes partitions before its seek), so INFO.
        log.info(
            "%s[%d]: record %d delivered while %d is next; reading again from %d",
            self.topic,
            partition,
            offset,
            expected,
            expected,
        )
        try:
            await self.app.consumer.seek(TP(self.topic, partition), expected)
        except Exception as exc:  # revoked meanwhile: the next owner starts from its commit
            log.warning("%s[%d]: seek to %d failed: %r", self.topic, partition, expected, exc)
