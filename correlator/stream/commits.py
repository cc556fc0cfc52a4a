"""Which input offset a stage may commit: never past a record it has not applied yet.

The stages keep a record unacknowledged while its items wait for their turn in event-time order
(`correlator.stream.ordering`), so that a crash or a rebalance makes its next owner read it
again. Faust 0.15's own rule (`Consumer._new_offset`) does not honour that: it commits the first
run of acknowledged offsets when that run starts *one past* the committed offset, and without
any check while nothing is committed yet. A record waiting at the committed offset behind
acknowledged progress marks was committed past within a second, and lost when its partition
moved to another worker or the worker was killed (issue 9: a resolve lost at a rebalance).
`committable` is the rule the worker's consumer uses instead (`faust_kafka._Consumer`).
"""

from __future__ import annotations

from collections.abc import Iterable


def committable(acked: Iterable[int], committed: int | None, pending: Iterable[int]) -> int | None:
    """The offset to commit for one partition, or None when it would not move.

    `acked`: offsets applied and acknowledged; `committed`: the group's committed offset (the
    next record to read; None when nothing is committed yet); `pending`: offsets of records
    delivered to the stage and not acknowledged yet. The answer is the end of the run of
    consecutive acknowledged offsets that starts at `committed` (at the lowest acknowledged
    offset when nothing is committed), stopped at the first pending record.
    """
    done = sorted(o for o in set(acked) if committed is None or o >= committed)
    if not done or (committed is not None and done[0] != committed):
        return None  # the record at the committed offset is not applied yet
    end = done[0]
    for offset in done[1:]:
        if offset != end + 1:
            break
        end = offset
    waiting = min((o for o in pending if committed is None or o >= committed), default=None)
    if waiting is not None:
        end = min(end, waiting - 1)
    return None if end < done[0] else end + 1
