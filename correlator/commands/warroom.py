"""`correlator warroom`: the Textual war room on a live broker or a replayed alert file."""

from __future__ import annotations

import argparse
import getpass
import importlib
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from correlator.commands.options import (
    add_engine_options,
    add_kafka_options,
    add_prefix_option,
    engine_settings,
    kafka_connection,
    topic_prefix,
)
from correlator.errors import CorrelatorError, UsageError
from correlator.records import Record

if TYPE_CHECKING:
    from tui.feeds.base import IncidentFeed

KAFKA_FLAGS = (
    "broker",
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "ssl_cafile",
)
"""The live feed's flags (`add_kafka_options`): meaningless with --replay or --db."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "warroom",
        help="the live war room: incidents by customers affected",
        description="The Textual war room. Live from Kafka by default (the same connection "
        "flags and CORRELATOR_* variables as the worker); --replay plays an alert file through "
        "the engine instead; --db follows the incident history database (read-only).",
    )
    live = parser.add_argument_group("live from Kafka (the default source)")
    add_kafka_options(live)
    source = parser.add_argument_group("other sources (one of)")
    source.add_argument(
        "--replay", metavar="FILE", help="replay this alert file (needs --topology)"
    )
    source.add_argument(
        "--db", metavar="URL", help="follow the incident history database (read-only; no acks)"
    )
    add_prefix_option(parser)
    parser.add_argument(
        "--as",
        dest="user",
        metavar="NAME",
        default=None,
        help="your name on acknowledgements (env CORRELATOR_USER, else USER)",
    )
    parser.add_argument(
        "--ingress",
        metavar="URL",
        default=None,
        help="the worker's webhook ingress (http://HOST:PORT/ingest), shown on the help screen "
        "(env CORRELATOR_INGRESS_URL)",
    )
    replay = parser.add_argument_group("replay")
    replay.add_argument("--topology", metavar="T", help="topology file for --replay")
    replay.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="N",
        help="replay at N × event time (0 = as fast as possible; default 1)",
    )
    add_engine_options(parser)
    parser.set_defaults(func=_run)


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
    return value


def responder_name(flag: str | None) -> str:
    """`--as`, else CORRELATOR_USER, else USER, else the login name."""
    for candidate in (flag, os.environ.get("CORRELATOR_USER"), os.environ.get("USER")):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def build_feed(args: argparse.Namespace) -> IncidentFeed:
    """The feed the flags ask for; raises `CorrelatorError` for a bad combination."""
    chosen = [name for name in ("replay", "db") if getattr(args, name)]
    live = [name for name in KAFKA_FLAGS if getattr(args, name) is not None]
    if live and chosen:
        flag = live[0].replace("_", "-")
        raise UsageError(f"--{flag} and --{chosen[0]} exclude each other")
    if len(chosen) > 1:
        raise UsageError("--replay and --db exclude each other")
    if args.replay:
        from tui.feeds.replay import ReplayFeed

        if not args.topology:
            raise UsageError("--replay needs --topology")
        return ReplayFeed(_replay_pairs(args), speed=args.speed)
    if args.topology:
        raise UsageError("--topology is only used with --replay")
    if args.db:
        from tui.feeds.db import DbFeed

        return DbFeed(args.db)
    from tui.feeds.kafka import KafkaFeed

    return KafkaFeed(kafka_connection(args), topic_prefix(args))


def _replay_pairs(args: argparse.Namespace) -> Iterable[tuple[int, Record]]:
    from correlator.topology_files import load_topology

    try:
        replay = importlib.import_module("correlator.replay")
        replay_records = replay.replay_records
    except (ImportError, AttributeError):
        raise CorrelatorError(
            "warroom --replay: the replay engine (correlator.replay.replay_records) is not "
            "available in this build"
        ) from None
    if not os.path.exists(args.replay):
        raise UsageError(f"{args.replay}: no such file")
    topology = load_topology(args.topology)
    # An empty war room must never stand for input that held no alert (DESIGN §7).
    replay.check_inputs([args.replay])
    pairs: Iterable[tuple[int, Record]] = replay_records(
        topology, [args.replay], engine_settings(args)
    )
    return pairs


def _run(args: argparse.Namespace) -> int:
    feed = build_feed(args)
    from tui.app import WarRoomApp, wall_clock
    from tui.screens.help import IngressHint

    user = responder_name(args.user)
    url = args.ingress or os.environ.get("CORRELATOR_INGRESS_URL")
    token_env = "CORRELATOR_INGEST_TOKEN" if os.environ.get("CORRELATOR_INGEST_TOKEN") else None
    ingress = IngressHint(url, token_env) if url else None
    # A replay's "now" is the newest event time it has shown, so ages read as they did then.
    app = WarRoomApp(feed, user=user, clock="event" if args.replay else wall_clock, ingress=ingress)
    app.run()
    return 0
