"""`correlator replay --topology T FILE… [--summary]`: the core over alert files, offline."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from correlator.adapters import FORMATS
from correlator.commands.options import add_engine_options, engine_settings
from correlator.core.timefmt import TimeFormatError, parse_time
from correlator.errors import UsageError
from correlator.replay import Replay, read_inputs
from correlator.topology_files import load_topology
from correlator.wire import event_to_dict


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="run the core over alert files offline",
        description="Replay alert files (JSONL or JSON documents, any supported format, or "
        "directories of them) through the core and print the incident events as JSONL, or "
        "with --summary one JSON document with the final state. Deterministic.",
    )
    parser.add_argument("--topology", "-t", required=True, help="topology file (YAML or JSON)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="alert files or directories")
    parser.add_argument("--summary", action="store_true", help="print the final state only")
    parser.add_argument(
        "--format", choices=sorted(FORMATS), help="force one payload format (default: detect)"
    )
    parser.add_argument(
        "--until",
        help="advance the clock to this RFC 3339 time at the end (default: past the "
        "last pending deadline)",
    )
    add_engine_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    topology = load_topology(args.topology)
    until = None
    if args.until:
        try:
            until = parse_time(args.until)
        except TimeFormatError as exc:
            raise UsageError(f"--until: {exc}") from None
    replay = Replay(topology, engine_settings(args), fmt=args.format)
    out = sys.stdout.buffer
    for _, result in replay.run(read_inputs(args.files), until):
        if not args.summary:
            for event in result.events:
                out.write(orjson.dumps(event_to_dict(event)) + b"\n")
    # Input with no valid alert is an error, never an all-clear (DESIGN §7); some invalid
    # lines are reported and the replay goes on.
    error = replay.check.error(args.files)
    if error is not None:
        raise UsageError(error)
    warning = replay.check.warning()
    if warning is not None:
        print(f"correlator replay: {warning}", file=sys.stderr)
    if args.summary:
        out.write(orjson.dumps(replay.summary(), option=orjson.OPT_INDENT_2) + b"\n")
    out.flush()
    return 0
