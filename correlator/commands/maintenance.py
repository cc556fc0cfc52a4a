"""`correlator maintenance add|list|end`: planned-work windows on `incident.actions`
(DESIGN §6). While a window covers a problem's component the problem is planned; an incident
whose root causes are all planned never pages."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import inspect
import logging
import os
import time
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

from correlator.commands.incidents import table
from correlator.commands.options import (
    add_cluster_options,
    duration_arg,
    kafka_connection,
    topic_prefix,
)
from correlator.core.maintenance import MaintenanceWindow
from correlator.core.timefmt import Millis, TimeFormatError, format_time, parse_time
from correlator.errors import BrokerError, CorrelatorError, UsageError
from correlator.stream.config import WorkerConfig

T = TypeVar("T")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("maintenance", help="declare, list and end planned work")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    add = actions.add_parser("add", help="declare a maintenance window")
    add.add_argument(
        "--component", action="append", default=[], metavar="ID", help="component id or alias"
    )
    add.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="K=V",
        help="label selector pair (globs allowed); all pairs must match a component's id "
        "(`component`), kind, owner, labels or its own match selectors",
    )
    add.add_argument("--for", dest="duration", type=duration_arg, required=True, help="e.g. 2h")
    add.add_argument("--reason", required=True, help="why (shown in the war room and history)")
    add.add_argument("--by", default=None, help="who (default: $USER)")
    add.add_argument("--start", default=None, help="RFC 3339 start time (default: now)")
    add.add_argument("--id", default=None, help="window id (default: generated)")
    add_cluster_options(add)
    add.set_defaults(func=_add)
    listing = actions.add_parser("list", help="windows in force or scheduled")
    listing.add_argument("--all", action="store_true", help="also the windows that ended")
    add_cluster_options(listing)
    listing.set_defaults(func=_list)
    end = actions.add_parser("end", help="end a window now")
    end.add_argument("id", metavar="ID", help="window id")
    add_cluster_options(end)
    end.set_defaults(func=_end)


def _config(args: argparse.Namespace) -> WorkerConfig:
    return WorkerConfig(kafka=kafka_connection(args), topic_prefix=topic_prefix(args))


def _now() -> Millis:
    return time.time_ns() // 1_000_000


def _run(config: WorkerConfig, work: Awaitable[T]) -> T:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # errors are reported as one line

    async def bounded() -> T:
        from correlator.broker import ensure_topics
        from correlator.stream.topics import topic_specs, topics_for

        topic = topics_for(config).actions
        await ensure_topics(
            config.kafka, [s for s in topic_specs(config) if s.name == topic], timeout=20
        )
        return await asyncio.wait_for(work, 30)

    try:
        return asyncio.run(bounded())
    except CorrelatorError:
        raise
    except Exception as exc:
        reason = exc or type(exc).__name__
        raise BrokerError(f"cannot reach {config.kafka.describe()}: {reason}") from None
    finally:
        if inspect.iscoroutine(work):
            work.close()  # never awaited when the topics could not be created; else a no-op


def _selector(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"--match {pair!r}: expected LABEL=VALUE")
        out.append((key.strip(), value.strip()))
    return tuple(sorted(out))


def _add(args: argparse.Namespace) -> int:
    from correlator.stream.maintenance import publish_window

    if not args.component and not args.match:
        raise UsageError("maintenance add: give --component ID… or --match LABEL=VALUE…")
    now = _now()
    try:
        start = now if args.start is None else parse_time(args.start)
    except TimeFormatError as exc:
        raise UsageError(f"--start: {exc}") from None
    if args.duration <= 0:
        raise UsageError("--for: must be longer than 0")
    window = MaintenanceWindow(
        id=args.id or f"mw-{uuid.uuid4().hex[:8]}",
        components=tuple(args.component),
        match=(_selector(args.match),) if args.match else (),
        starts_at=start,
        ends_at=start + args.duration,
        reason=args.reason,
        by=args.by or os.environ.get("USER") or getpass.getuser(),
    )
    config = _config(args)
    _run(config, publish_window(config, window, now))
    print(
        f"{window.id}: {describe(window)} from {format_time(window.starts_at)} "
        f"to {format_time(window.ends_at)}"
    )
    return 0


def describe(window: MaintenanceWindow) -> str:
    """What a window covers, in one phrase."""
    parts = list(window.components)
    parts.extend(",".join(f"{k}={v}" for k, v in selector) for selector in window.match)
    return " ".join(parts)


def state_of(window: MaintenanceWindow, now: Millis) -> str:
    if window.active(now):
        return "active"
    return "scheduled" if now < window.starts_at else "ended"


def _list(args: argparse.Namespace) -> int:
    from correlator.stream.maintenance import read_windows

    config = _config(args)
    windows = _run(config, read_windows(config))
    now = _now()
    shown = [w for w in windows if args.all or state_of(w, now) != "ended"]
    if not shown:
        print("no maintenance windows" + ("" if args.all else " in force or scheduled"))
        return 0
    rows = [["ID", "STATE", "STARTS", "ENDS", "BY", "COVERS", "REASON"]]
    for w in sorted(shown, key=lambda w: (w.starts_at, w.id)):
        rows.append(
            [
                w.id,
                state_of(w, now),
                format_time(w.starts_at),
                format_time(w.ends_at),
                w.by,
                describe(w),
                w.reason,
            ]
        )
    print(table(rows))
    return 0


def _end(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from correlator.stream.maintenance import publish_window, read_windows

    config = _config(args)
    windows = {w.id: w for w in _run(config, read_windows(config))}
    window = windows.get(args.id)
    if window is None:
        raise UsageError(f"no maintenance window {args.id!r} (see `correlator maintenance list`)")
    now = _now()
    if window.ends_at <= now:
        print(f"{window.id}: already ended at {format_time(window.ends_at)}")
        return 0
    _run(config, publish_window(config, replace(window, ends_at=now), now))
    print(f"{window.id}: ended at {format_time(now)}")
    return 0
