"""`ReplayFeed`: pacing and the impact stage's idle ticks, so a quiet recording is never STALE."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import until

from correlator.core.timefmt import SECOND, format_time
from correlator.records import SUMMARY_KEY, TOPIC_IMPACT_SUMMARY, TOPIC_INCIDENTS, Record
from correlator.replay import replay_records
from correlator.topology_files import load_topology
from tui.app import WarRoomApp
from tui.feeds import ReplayFeed
from tui.state import WarRoomState
from tui.widgets.stale_banner import StaleBanner

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_741_960_800_000  # 2025-03-14T14:00:00Z


def postgres_outage() -> list[tuple[int, Record]]:
    """The README tour's replay: quiet from 14:05 to 14:18 (no summary change in between)."""
    topology = load_topology(ROOT / "topologies" / "saas.yaml")
    scenario = ROOT / "topologies" / "scenarios" / "saas-postgres-outage.jsonl"
    return list(replay_records(topology, [scenario]))


def summary(t: int, affected: int) -> tuple[int, Record]:
    value = {"schema": 1, "as_of": format_time(t), "customers_affected": affected}
    return t, Record(TOPIC_IMPACT_SUMMARY, SUMMARY_KEY, value)


def incident(t: int, seq: int) -> tuple[int, Record]:
    value = {"schema": 1, "id": "inc-1", "seq": seq, "status": "open", "as_of": format_time(t)}
    return t, Record(TOPIC_INCIDENTS, "inc-1", value)


async def play(feed: ReplayFeed) -> list[Record]:
    return [record async for record in feed]


def summary_times(records: list[Record]) -> list[str]:
    return [str(r.value["as_of"]) for r in records if r.topic == TOPIC_IMPACT_SUMMARY and r.value]


def test_a_quiet_recording_is_never_stale_on_the_replay_clock() -> None:
    state = WarRoomState()
    stale_at: list[tuple[str, list[str]]] = []
    for record in asyncio.run(play(ReplayFeed(postgres_outage(), speed=0))):
        state.apply(record, None)
        reasons = state.stale_reasons(state.latest_event_ms)
        if reasons:
            stale_at.append((format_time(state.latest_event_ms), reasons))
    assert stale_at == []
    assert format_time(state.latest_event_ms) == "2025-03-14T14:19:00Z"


def test_the_same_recording_without_ticks_would_be_stale() -> None:
    """The control: the engine alone publishes no summary from 14:00 to 14:19."""
    state = WarRoomState()
    stale = False
    for _, record in postgres_outage():
        state.apply(record, None)
        stale = stale or bool(state.stale_reasons(state.latest_event_ms))
    assert stale


def test_ticks_republish_the_summary_unchanged_but_for_as_of() -> None:
    pairs = [summary(T0, 120), incident(T0 + 12 * SECOND, 2)]
    records = asyncio.run(play(ReplayFeed(pairs, speed=0, tick_ms=5 * SECOND)))
    assert [(r.topic, r.value) for r in records] == [
        (TOPIC_IMPACT_SUMMARY, pairs[0][1].value),
        (
            TOPIC_IMPACT_SUMMARY,
            {"schema": 1, "as_of": format_time(T0 + 10 * SECOND), "customers_affected": 120},
        ),
        (TOPIC_INCIDENTS, pairs[1][1].value),
    ]


def test_a_paced_replay_ticks_through_the_quiet_stretch() -> None:
    pairs = [summary(T0, 5), incident(T0 + 20 * SECOND, 2), summary(T0 + 21 * SECOND, 7)]
    records = asyncio.run(play(ReplayFeed(pairs, speed=1000, tick_ms=5 * SECOND)))
    assert summary_times(records) == [format_time(T0 + s * SECOND) for s in (0, 5, 10, 15, 20, 21)]
    assert records[-1].value == pairs[-1][1].value


def test_no_tick_before_the_first_summary() -> None:
    pairs = [incident(T0, 1), incident(T0 + 60 * SECOND, 2)]
    records = asyncio.run(play(ReplayFeed(pairs, speed=0, tick_ms=SECOND)))
    assert records == [record for _, record in pairs]


async def test_the_war_room_shows_no_stale_banner_after_a_quiet_replay() -> None:
    app = WarRoomApp(ReplayFeed(postgres_outage(), speed=0), clock="event")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.link == "ended")
        app.repaint(force=True)
        await pilot.pause()
        assert app.screen.query_one(StaleBanner).reasons == ()
        assert app.state.summary is not None
        assert app.state.summary["as_of"] == "2025-03-14T14:19:00Z"
