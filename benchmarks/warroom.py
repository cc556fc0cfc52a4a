"""War-room display lag: N open incidents receiving M updates/s, fed through the real app
headless (`App.run_test`), next to the pure `WarRoomState` fold rate measured in the same run.

"lag" is how old the newest record shown on screen was when a repaint finished (pushed into
the feed → folded → painted); "wait" is how long the oldest record first shown by a repaint
waited for it (the worst a responder sees a change late). The app repaints on a 0.25 s timer,
so a wait of up to ~250 ms plus the repaint itself is the coalescing design working.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from correlator.core.timefmt import format_time
from correlator.records import TOPIC_IMPACT_SUMMARY, TOPIC_INCIDENTS, Record
from tui.app import WarRoomApp
from tui.feeds import MemoryFeed
from tui.state import WarRoomState

NOW = 1_741_948_200_000
CASES = ((50, 1_000), (500, 5_000), (500, 20_000))
"""(open incidents, updates per second)."""
SECONDS = 3.0


def snapshot(i: int, seq: int) -> dict[str, Any]:
    """A realistic snapshot: 3 components with 5 alerts each."""
    t = format_time(NOW - 60_000 * (i % 50))
    return {
        "schema": 1,
        "id": f"inc-{i:04d}",
        "seq": seq,
        "status": "open",
        "merged_into": None,
        "severity": ("SEV1", "SEV2", "SEV3", "SEV4")[i % 4],
        "title": f"service-{i} partly down — {seq * 10 + i:,} customers affected",
        "opened_at": t,
        "updated_at": t,
        "resolved_at": None,
        "as_of": t,
        "customers_affected": seq * 10 + i,
        "customers_degraded": 0,
        "peak_customers_affected": seq * 10 + i,
        "peak_severity": "SEV2",
        "segments": [{"id": "eu", "customers": 100000, "affected": seq * 10 + i, "degraded": 0}],
        "business_services": [
            {
                "id": f"svc-{i}",
                "name": f"Service {i}",
                "tier": 2,
                "impact": 0.5,
                "state": "partial",
                "owner": "team",
            }
        ],
        "root_causes": [f"db-{i}"],
        "components": [
            {
                "id": f"{kind}-{i}",
                "kind": kind,
                "state": "down",
                "root_cause": kind == "db",
                "owner": "team",
                "runbook": "https://wiki.example",
                "alert_count": 5,
                "alerts": [
                    {
                        "fingerprint": f"{kind}-{i}-{a}",
                        "severity": "critical",
                        "summary": f"{kind}-{i} alert {a}",
                        "starts_at": t,
                    }
                    for a in range(5)
                ],
            }
            for kind in ("db", "api", "web")
        ],
        "alert_count": 15,
        "estimated": False,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "topology": {"name": "bench", "version": "x"},
    }


def updates(incidents: int, count: int) -> list[Record]:
    """`count` updates round-robin over `incidents`, each with the next seq of its incident."""
    return [
        Record(
            TOPIC_INCIDENTS, f"inc-{n % incidents:04d}", snapshot(n % incidents, n // incidents + 1)
        )
        for n in range(count)
    ]


def fold_rate(records: list[Record]) -> float:
    state = WarRoomState()
    started = time.perf_counter()
    for record in records:
        state.apply(record, NOW)
    state.rows()
    return len(records) / (time.perf_counter() - started)


async def display_lag(incidents: int, rate: int) -> dict[str, float]:
    total = int(rate * SECONDS)
    records = updates(incidents, total)
    summary = Record(
        TOPIC_IMPACT_SUMMARY,
        "summary",
        {
            "schema": 1,
            "as_of": format_time(NOW),
            "customers_total": 10**6,
            "customers_affected": 1000,
            "customers_degraded": 0,
            "estimated": False,
            "segments": [],
            "unattached_problems": [],
            "stale_sources": [],
            "ingest_lag_seconds": 0.1,
        },
    )
    feed = MemoryFeed([summary])
    app = WarRoomApp(feed, user="bench", clock=lambda: NOW, highlight_seconds=0)
    pushed_at: list[float] = [time.perf_counter()]  # index = applied count - 1
    lags: list[float] = []
    waits: list[float] = []
    previous = [1]

    def probe() -> None:
        painted, now = app.painted_applied, time.perf_counter()
        if painted > previous[0]:
            lags.append(now - pushed_at[painted - 1])
            waits.append(now - pushed_at[previous[0]])
            previous[0] = painted

    app.on_paint = probe
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.3)
        chunk = max(1, rate // 100)  # push every 10 ms
        started = time.perf_counter()
        for offset in range(0, total, chunk):
            due = started + offset / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            batch = records[offset : offset + chunk]
            now = time.perf_counter()
            pushed_at.extend([now] * len(batch))
            feed.push_many(batch)
        push_seconds = time.perf_counter() - started
        while app.painted_applied < len(pushed_at):
            await pilot.pause(0.05)
        drained = time.perf_counter() - started
        repaints = app.repaints
    lags.sort()
    return {
        "pushed/s": total / push_seconds,
        "repaints": repaints,
        "lag_p50_ms": 1000 * statistics.median(lags),
        "lag_p95_ms": 1000 * lags[int(0.95 * (len(lags) - 1))],
        "lag_max_ms": 1000 * lags[-1],
        "wait_p50_ms": 1000 * statistics.median(waits),
        "wait_max_ms": 1000 * max(waits),
        "drained_s": drained,
    }


def main() -> None:
    print(
        f"{'incidents':>9} {'updates/s':>9} {'fold/s':>9} {'load':>6} {'repaints':>8} "
        f"{'lag p50':>8} {'p95':>7} {'max':>7} {'wait p50':>8} {'max':>7} {'drained':>8}"
    )
    for incidents, rate in CASES:
        baseline = fold_rate(updates(incidents, 20_000))
        figures = asyncio.run(display_lag(incidents, rate))
        print(
            f"{incidents:>9} {rate:>9,} {baseline:>9,.0f} {rate / baseline:>6.1%} "
            f"{figures['repaints']:>8.0f} {figures['lag_p50_ms']:>6.0f}ms "
            f"{figures['lag_p95_ms']:>5.0f}ms {figures['lag_max_ms']:>5.0f}ms "
            f"{figures['wait_p50_ms']:>6.0f}ms {figures['wait_max_ms']:>5.0f}ms "
            f"{figures['drained_s']:>7.2f}s"
        )
    print(
        f"(each run pushes for {SECONDS:.0f} s; load = updates/s as a share of the pure fold "
        "rate; lag = age of the newest record on screen when a repaint finishes; wait = how long"
        " the oldest newly shown record took from feed to screen)"
    )


if __name__ == "__main__":
    main()
