"""Which events notify, the message shapes and the rate limiter's arithmetic (no I/O)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from correlator.notify import NotifyPolicy, body, slack_message
from correlator.notify.sender import RateLimiter

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "topologies" / "scenarios" / "acme-shop-cart-shard-down.jsonl"


def scenario_events() -> list[dict[str, Any]]:
    """The incident events of a real replay: a cart shard goes down (SEV1), recovers to a
    degraded-only SEV4, then resolves."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "correlator",
            "replay",
            "--topology",
            str(ROOT / "topologies" / "acme-shop.yaml"),
            str(SCENARIO),
        ],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    return [orjson.loads(line) for line in out.stdout.splitlines()]


def _decide(policy: NotifyPolicy, events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(e["type"], e["seq"]) for e in events if policy.decide(e)]


def test_opened_severity_changes_and_resolved_notify_repeats_do_not() -> None:
    events = scenario_events()
    assert [(e["type"], e["incident"]["severity"]) for e in events] == [
        ("incident.opened", "SEV1"),
        ("incident.updated", "SEV1"),
        ("incident.updated", "SEV1"),
        ("incident.updated", "SEV4"),
        ("incident.updated", "SEV4"),
        ("incident.resolved", "SEV4"),
    ]
    expected = [("incident.opened", 1), ("incident.updated", 4), ("incident.resolved", 6)]
    assert _decide(NotifyPolicy(frozenset({"SEV1", "SEV2"})), events) == expected
    # Redelivered (Kafka is at-least-once): nothing twice.
    policy = NotifyPolicy()
    assert _decide(policy, events[:4]) == expected[:2]
    assert _decide(policy, events) == expected[2:]
    assert _decide(policy, events) == []  # all of it again, after the resolve
    # Only SEV3 wanted: this SEV1-then-SEV4 incident never concerns them.
    assert _decide(NotifyPolicy(frozenset({"SEV3"})), events) == []


def test_planned_incidents_never_notify_until_they_become_unplanned() -> None:
    events = scenario_events()
    planned = [{**e, "incident": {**e["incident"], "planned": True}} for e in events[:3]]
    unplanned = events[3:]  # the window ended: from here it pages like any other
    assert _decide(NotifyPolicy(), [*planned, *unplanned]) == [
        ("incident.updated", 4),
        ("incident.resolved", 6),
    ]
    assert (
        _decide(
            NotifyPolicy(), [{**e, "incident": {**e["incident"], "planned": True}} for e in events]
        )
        == []
    )


def test_json_body_is_the_event_and_slack_shape() -> None:
    event = scenario_events()[0]
    assert orjson.loads(body(event, "json")) == event
    message = slack_message(event)
    snapshot = event["incident"]
    assert message["text"] == f":rotating_light: SEV1 opened: {snapshot['title']}"
    assert [b["type"] for b in message["blocks"]] == ["section", "section", "context"]
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert fields[0] == f"*Customers affected*\n{snapshot['customers_affected']:,}"
    assert fields[3] == f"*Root causes*\n{', '.join(snapshot['root_causes'])}"
    hostile = {**event, "incident": {**snapshot, "title": "<!channel> & <http://x|y>"}}
    assert slack_message(hostile)["text"].endswith("&lt;!channel&gt; &amp; &lt;http://x|y&gt;")


def test_rate_limiter_allows_a_burst_then_the_rate() -> None:
    now = [100.0]

    async def never(_: float) -> None:
        raise AssertionError("delay() never sleeps")

    limiter = RateLimiter(2.0, 3, clock=lambda: now[0], sleep=never)
    assert [limiter.delay() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert [limiter.delay() for _ in range(2)] == [0.5, 1.0]  # 2 per second after the burst
    now[0] += 10  # idle: the bucket refills, to the burst at most
    assert [limiter.delay() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
