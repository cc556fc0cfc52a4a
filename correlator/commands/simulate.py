"""`correlator simulate`: realistic alert storms in the real payload formats, to Kafka or a file."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from correlator.commands.options import (
    add_cluster_options,
    kafka_connection,
    positive_int,
    topic_prefix,
)
from correlator.core.timefmt import Millis, TimeFormatError, parse_time
from correlator.errors import BrokerError, UsageError
from correlator.kafka_connection import KafkaConnection, failure_reason
from correlator.records import TOPIC_ALERTS_RAW
from correlator.simulate import SCENARIOS, SimPayload, simulate
from correlator.topology_files import load_topology


def register(subparsers: Any) -> None:
    scenarios = "; ".join(f"{name}: {text}" for name, text in SCENARIOS.items())
    parser = subparsers.add_parser(
        "simulate",
        help="produce realistic alert storms (real payload formats) to alerts.raw or a file",
        description="Simulate alert storms against a topology: root causes with symptoms, "
        "repeats, flapping, recovery, unmapped noise and malformed payloads, in Alertmanager, "
        "Grafana, PagerDuty v2, CloudWatch/SNS and Opsgenie formats. Deterministic for a "
        f"seed and start time. Scenarios: {scenarios}.",
    )
    parser.add_argument("--topology", "-t", help="topology file (env CORRELATOR_TOPOLOGY)")
    add_cluster_options(parser)
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=20.0,
        metavar="N",
        help="payloads (webhook deliveries) per second (default 20)",
    )
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--duration", type=_positive_float, metavar="S", help="stop after S seconds")
    stop.add_argument("--count", type=positive_int, metavar="N", help="stop after N payloads")
    parser.add_argument(
        "--scenario", choices=sorted(SCENARIOS), default="storm", help="default: storm"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--start",
        help="RFC 3339 time of the first payload (default: now); with --out and --seed the "
        "file is then reproducible byte for byte",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write JSONL envelopes to FILE ('-' for stdout) instead of producing to Kafka, "
        "as fast as possible; replay it with `correlator replay`",
    )
    parser.set_defaults(func=run)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _limited(items: Iterator[SimPayload], args: argparse.Namespace) -> Iterator[SimPayload]:
    if args.count is not None:
        return itertools.islice(items, args.count)
    if args.duration is not None:
        return itertools.islice(items, max(1, math.ceil(args.duration * args.rate)))
    return items


def run(args: argparse.Namespace) -> int:
    path = args.topology or os.environ.get("CORRELATOR_TOPOLOGY")
    if not path:
        raise UsageError("simulate needs --topology FILE (or CORRELATOR_TOPOLOGY)")
    kafka = None if args.out is not None else kafka_connection(args)  # bad settings: one line
    topology = load_topology(path)
    start: Millis
    if args.start:
        try:
            start = parse_time(args.start)
        except TimeFormatError as exc:
            raise UsageError(f"--start: {exc}") from None
    else:
        start = int(time.time() * 1000)
    payloads = _limited(
        simulate(topology, seed=args.seed, start=start, rate=args.rate, scenario=args.scenario),
        args,
    )
    if kafka is None:
        return _write(payloads, args.out)
    topic = f"{topic_prefix(args)}{TOPIC_ALERTS_RAW}"
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # errors are reported as one line
    sent = asyncio.run(produce(payloads, kafka, topic, start))
    print(f"sent {sent} payloads to {topic} on {kafka.describe()}", file=sys.stderr)
    return 0


def _write(payloads: Iterator[SimPayload], out: Path) -> int:
    if str(out) == "-":
        stream = sys.stdout.buffer
        for item in payloads:
            stream.write(item.to_json() + b"\n")
        stream.flush()
        return 0
    try:
        with out.open("wb") as f:
            for item in payloads:
                f.write(item.to_json() + b"\n")
    except OSError as exc:
        raise UsageError(f"{out}: cannot write: {exc.strerror or exc}") from None
    return 0


async def produce(
    payloads: Iterator[SimPayload],
    kafka: KafkaConnection,
    topic: str,
    start: Millis,
    *,
    paced: bool = True,
) -> int:
    """Send each payload to `topic` at its time (wall clock from `start`), keyed so one
    alert's deliveries stay in order on one partition; returns how many were sent."""
    from aiokafka.errors import KafkaError

    producer = kafka.producer(client_id="correlator-simulate", linger_ms=5)
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        reason = await failure_reason(kafka, exc)
        raise BrokerError(f"cannot reach the broker at {kafka.describe()}: {reason}") from None
    sent = 0
    loop = asyncio.get_running_loop()
    origin = loop.time()
    try:
        for item in payloads:
            if paced:
                delay = (item.at - start) / 1000 - (loop.time() - origin)
                if delay > 0:
                    await asyncio.sleep(delay)
            await producer.send(topic, item.to_json(), key=item.key.encode())
            sent += 1
        await producer.flush()
    except KafkaError as exc:
        raise BrokerError(f"producing to {topic} on {kafka.describe()} failed: {exc}") from None
    finally:
        await producer.stop()
    return sent
