"""The commit rule (`correlator.stream.commits`): never past a record not applied yet.

Faust 0.15's own rule committed 377 with the record at the committed offset 360 still waiting
for its turn (measured in a two-worker crash run, issue 9); that record was then never read
again when its partition moved. These cases pin the rule the worker uses instead."""

from __future__ import annotations

from correlator.stream.commits import committable


def test_a_record_waiting_at_the_committed_offset_holds_the_commit_back() -> None:
    # 360 waits for its turn; the progress marks after it were applied and acknowledged.
    assert committable([361, 362, 363], 360, pending=[360]) is None


def test_the_run_of_applied_records_from_the_committed_offset_is_committed() -> None:
    assert committable([360, 361, 362], 360, pending=[]) == 363
    assert committable([362, 360, 361, 364], 360, pending=[]) == 363  # stops at the gap


def test_the_commit_stops_before_the_first_waiting_record() -> None:
    assert committable([360, 361, 363, 364], 360, pending=[362, 365]) == 362
    assert committable([0, 1, 2, 3], None, pending=[2]) == 2


def test_nothing_committed_yet_and_the_first_record_still_waits() -> None:
    assert committable([1, 2], None, pending=[0]) is None
    assert committable([0, 1, 2], None, pending=[]) == 3


def test_acknowledgements_from_before_the_committed_offset_are_ignored() -> None:
    assert committable([100, 101], 105, pending=[]) is None
    assert committable([100, 105, 106], 105, pending=[99]) == 107
