"""`correlator worker`: run the stream processor (the Faust worker) in this process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from correlator.commands.options import (
    add_cluster_options,
    add_engine_options,
    duration_arg,
    engine_settings,
    kafka_connection,
    positive_int,
    topic_prefix,
)
from correlator.errors import BrokerError, CorrelatorError, UsageError
from correlator.log_noise import no_spinner_unless_terminal, quiet_retried_startup_errors
from correlator.stream.config import WorkerConfig

PREPARE_TIMEOUT = 30.0


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"not a port number: {text}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run the stream processor (Faust worker)",
        description="Run the stream processor: ingest, alert state, health and impact stages "
        "over Kafka. Flags default to CORRELATOR_* environment variables.",
    )
    add_cluster_options(parser)
    parser.add_argument(
        "--topology",
        "-t",
        default=_env("CORRELATOR_TOPOLOGY"),
        help="topology file to start with (env CORRELATOR_TOPOLOGY; default: the newest "
        "version on the topology topic)",
    )
    parser.add_argument(
        "--db", default=_env("CORRELATOR_DB"), help="history database URL (env CORRELATOR_DB)"
    )
    web_port = _env("CORRELATOR_WEB_PORT")
    parser.add_argument(
        "--web-port",
        type=_port,
        default=_port(web_port) if web_port and web_port.isdigit() else None,
        help="serve the webhook ingress (POST /ingest), GET /health and Faust's web pages on "
        "this port (env CORRELATOR_WEB_PORT; default off)",
    )
    parser.add_argument(
        "--ingest-token",
        default=_env("CORRELATOR_INGEST_TOKEN"),
        help="require `Authorization: Bearer TOKEN` on POST /ingest (env CORRELATOR_INGEST_TOKEN; "
        "prefer the variable: flags show in process lists)",
    )
    parser.add_argument(
        "--ingress-max-requests",
        type=positive_int,
        default=_env("CORRELATOR_INGRESS_MAX_REQUESTS", "256"),  # argparse converts it
        help="requests the ingress holds at once; 503 + Retry-After beyond (env "
        "CORRELATOR_INGRESS_MAX_REQUESTS; default 256)",
    )
    parser.add_argument(
        "--ingress-max-bytes",
        type=positive_int,
        default=_env("CORRELATOR_INGRESS_MAX_BYTES", "67108864"),
        help="bytes of request bodies the ingress holds at once; 503 + Retry-After beyond "
        "(env CORRELATOR_INGRESS_MAX_BYTES; default 64 MiB)",
    )
    parser.add_argument(
        "--guarantee",
        default=_env("CORRELATOR_GUARANTEE", "at_least_once"),
        help="delivery guarantee: at_least_once, the only one (env CORRELATOR_GUARANTEE; "
        "duplicates are dropped by seq downstream)",
    )
    parser.add_argument(
        "--tick-interval",
        type=duration_arg,
        default=5000,
        help="advance idle clocks this often (default 5s)",
    )
    parser.add_argument(
        "--partitions",
        type=positive_int,
        default=positive_int(_env("CORRELATOR_PARTITIONS", "4") or "4"),
        help="partitions of alerts.raw and the internal hops when creating them (default 4)",
    )
    parser.add_argument(
        "--session-timeout",
        type=duration_arg,
        default=_env("CORRELATOR_SESSION_TIMEOUT", "10s"),
        help="a worker silent this long loses its partitions to the others (env "
        "CORRELATOR_SESSION_TIMEOUT; default 10s)",
    )
    parser.add_argument(
        "--instance-id",
        default=_env("CORRELATOR_INSTANCE_ID"),
        help="static group membership: a stable id unique to this worker; restarted with the "
        "same id it gets its partitions back at once (env CORRELATOR_INSTANCE_ID)",
    )
    parser.add_argument(
        "--loglevel", default="warning", choices=["debug", "info", "warning", "error"]
    )
    add_notify_options(parser)
    add_engine_options(parser)
    parser.set_defaults(func=run)


def add_notify_options(parser: argparse.ArgumentParser) -> None:
    """--notify URL (repeatable) and its companions; see `correlator.notify`."""
    from correlator.notify import FORMATS

    urls = (_env("CORRELATOR_NOTIFY") or "").replace(",", " ").split()
    parser.add_argument(
        "--notify",
        action="append",
        metavar="URL",
        default=None,
        help="post incident events (opened, reopened, severity changed, resolved; never "
        "planned ones) to this webhook; repeatable (env CORRELATOR_NOTIFY, comma-separated)",
    )
    parser.set_defaults(notify_env=urls)
    parser.add_argument(
        "--notify-format",
        choices=FORMATS,
        default=_env("CORRELATOR_NOTIFY_FORMAT", "json"),
        help="json: the incident event as it is; slack: Slack's incoming-webhook message "
        "(env CORRELATOR_NOTIFY_FORMAT; default json)",
    )
    parser.add_argument(
        "--notify-severity",
        default=_env("CORRELATOR_NOTIFY_SEVERITY", "SEV1,SEV2,SEV3,SEV4"),
        help="severities that notify, comma-separated (default all: SEV1,SEV2,SEV3,SEV4)",
    )
    parser.add_argument(
        "--notify-rate",
        type=float,
        default=1.0,
        help="at most this many posts per second to each URL, after a burst of 5 (default 1)",
    )


def notify_settings(args: argparse.Namespace) -> Any:
    """`NotifySettings` from the flags, or None without `--notify`."""
    from urllib.parse import urlparse

    from correlator.notify import SEVERITIES, NotifySettings

    urls = tuple(getattr(args, "notify", None) or getattr(args, "notify_env", None) or ())
    if not urls:
        return None
    for url in urls:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"--notify: not an http(s) URL: {url!r}")
    severities = frozenset(
        s.strip().upper() for s in str(args.notify_severity).split(",") if s.strip()
    )
    unknown = sorted(severities - set(SEVERITIES))
    if unknown or not severities:
        raise UsageError(
            f"--notify-severity: {unknown[0] if unknown else 'empty'!r} is not one of "
            f"{', '.join(SEVERITIES)}"
        )
    if args.notify_format not in ("json", "slack"):
        raise UsageError(f"CORRELATOR_NOTIFY_FORMAT: not json or slack: {args.notify_format!r}")
    if not args.notify_rate > 0:
        raise UsageError(f"--notify-rate: must be > 0, got {args.notify_rate}")
    return NotifySettings(
        urls=urls,
        format=args.notify_format,
        severities=severities,
        rate=args.notify_rate,
    )


def config_from_args(args: argparse.Namespace) -> WorkerConfig:
    if args.guarantee == "exactly_once":
        raise UsageError(
            "--guarantee exactly_once is not supported: the pipeline is at-least-once end to "
            "end and consumers drop duplicates by seq (README: Recovery and delivery)"
        )
    if args.guarantee != "at_least_once":
        raise UsageError(f"--guarantee: not a guarantee: {args.guarantee!r} (at_least_once)")
    return WorkerConfig(
        kafka=kafka_connection(args),
        topic_prefix=topic_prefix(args),
        topology_path=args.topology,
        db_url=args.db,
        partitions=args.partitions,
        tick_interval=args.tick_interval / 1000,
        engine=engine_settings(args),
        web_enabled=args.web_port is not None,
        web_port=args.web_port or 6066,
        ingest_token=args.ingest_token or None,
        notify=notify_settings(args),
        ingress_max_requests=args.ingress_max_requests,
        ingress_max_bytes=args.ingress_max_bytes,
        session_timeout=args.session_timeout / 1000,
        instance_id=args.instance_id or None,
    )


async def _prepare(config: WorkerConfig) -> Any:
    from correlator.stream.app import prepare

    try:
        return await asyncio.wait_for(prepare(config), PREPARE_TIMEOUT)
    except CorrelatorError:
        raise
    except TimeoutError:
        raise BrokerError(f"broker {config.kafka.describe()} did not answer within 30 s") from None
    except Exception as exc:
        raise BrokerError(f"cannot use broker {config.kafka.describe()}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if config.topology_path is not None:
        from correlator.topology_files import load_topology

        load_topology(config.topology_path)  # a bad file is one line, before any connection
    if config.db_url is not None:
        from correlator.store.history import open_store

        open_store(config.db_url).dispose()  # a bad URL or driver is one line, before starting
    quiet_retried_startup_errors()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # a connection failure is reported once, as one line
    try:
        current = loop.run_until_complete(_prepare(config))
    except BaseException:
        loop.close()
        raise
    finally:
        quiet.setLevel(level)
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(name)s %(message)s")
    import faust

    from correlator.stream.app import create_app

    app = create_app(config, current)
    worker = faust.Worker(app, loglevel=args.loglevel, loop=loop, quiet=True)
    no_spinner_unless_terminal(worker)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0
