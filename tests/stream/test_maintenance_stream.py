"""Planned work end to end on the real broker: `correlator maintenance add|list|end` from the
command line, a worker whose incident is planned while the window covers its root cause (and
not notified), then unplanned with one update when the window is ended early."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_ingress import CART_DB_DOWN, alertmanager
from test_metrics import failing_webhook, notifier_started
from worker_harness import ACME_TOPOLOGY, make_config, produce, records, running, wait_for

from correlator.broker import KafkaBroker
from correlator.core.timefmt import format_time
from correlator.notify import NotifySettings
from correlator.stream.topics import topics_for

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "correlator", "maintenance", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.kafka
async def test_maintenance_window_from_the_cli_plans_an_incident_until_it_is_ended(
    kafka_broker: KafkaBroker,
) -> None:
    async with failing_webhook() as (hook, hits):
        config = make_config(
            kafka_broker.bootstrap,
            ACME_TOPOLOGY,
            notify=NotifySettings(urls=(hook,), attempts=1, timeout=5.0),
        )
        broker = ("--broker", config.kafka.bootstrap, "--prefix", config.topic_prefix)
        topics = topics_for(config)
        async with running(config):
            await notifier_started(f"{config.app_id}-notify", config.kafka.bootstrap)
            added = cli(
                "add", "--component", "cart-db-2", "--for", "2h", "--reason", "failover test",
                "--by", "alice", "--id", "mw-test", *broker,
            )  # fmt: skip
            assert added.returncode == 0, added.stderr
            assert added.stdout.startswith("mw-test: cart-db-2 from ")
            await produce(
                config.kafka.bootstrap,
                topics.raw,
                [alertmanager(format_time(int(time.time() * 1000)), CART_DB_DOWN)],
            )

            async def planned_opened() -> tuple[bool, list[dict[str, object]]]:
                events = await records(config, topics.events)
                return bool(events) and events[-1]["incident"]["planned"] is True, events

            await wait_for(planned_opened, 30, "no planned incident")
            listed = cli("list", *broker)
            assert listed.returncode == 0, listed.stderr
            lines = listed.stdout.splitlines()
            assert lines[0].split() == ["ID", "STATE", "STARTS", "ENDS", "BY", "COVERS", "REASON"]
            assert lines[1].split()[:2] == ["mw-test", "active"]
            assert "failover test" in lines[1]

            ended = cli("end", "mw-test", *broker)
            assert ended.returncode == 0, ended.stderr

            async def unplanned() -> tuple[bool, list[dict[str, object]]]:
                events = await records(config, topics.events)
                return events[-1]["incident"]["planned"] is False, events

            _, events = await wait_for(unplanned, 30, "the incident stayed planned")
            await wait_for(lambda: _async(len(hits) == 1), 30, "the notifier never posted")

    assert [(e["type"], e["incident"]["planned"]) for e in events] == [
        ("incident.opened", True),
        ("incident.updated", False),
    ]
    assert hits == [500]  # the planned opening was skipped; the unplanned update was posted
    summaries = await records(config, topics.summary)
    planned = [s["customers_affected_planned"] for s in summaries]
    assert max(planned) == summaries[-1]["customers_affected"] > 0 and planned[-1] == 0
    gone = cli("list", *broker)
    assert gone.stdout.strip() == "no maintenance windows in force or scheduled"
    again = cli("list", "--all", *broker)
    assert again.stdout.splitlines()[1].split()[:2] == ["mw-test", "ended"]
    unknown = cli("end", "mw-nope", *broker)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1


async def _async(value: bool) -> bool:
    return value


@pytest.mark.kafka
async def test_a_restarted_impact_stage_keeps_the_windows(kafka_broker: KafkaBroker) -> None:
    config = make_config(kafka_broker.bootstrap, ACME_TOPOLOGY)
    broker = ("--broker", config.kafka.bootstrap, "--prefix", config.topic_prefix)
    topics = topics_for(config)
    added = cli("add", "--component", "cart-db-2", "--for", "2h", "--reason", "r", *broker)
    assert added.returncode == 0, added.stderr
    async with running(config):
        await produce(
            config.kafka.bootstrap,
            topics.raw,
            [alertmanager(format_time(int(time.time() * 1000)), CART_DB_DOWN)],
        )

        async def opened() -> tuple[bool, list[dict[str, object]]]:
            events = await records(config, topics.events)
            return len(events) == 1, events

        await wait_for(opened, 30, "no incident")
    summaries_before = len(await records(config, topics.summary))
    # impact.input is not replayed on a restart: the windows are read back from incident.actions.
    async with running(config):

        async def republished() -> tuple[bool, int]:
            n = len(await records(config, topics.summary))
            return n > summaries_before, n

        await wait_for(republished, 30, "the restarted impact stage published nothing")
        events = await records(config, topics.events)
    assert [(e["type"], e["incident"]["planned"]) for e in events] == [("incident.opened", True)]
    summary = (await records(config, topics.summary))[-1]
    assert summary["customers_affected_planned"] == summary["customers_affected"] > 0
