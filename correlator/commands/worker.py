"""`correlator worker`: run the stream processor (the Faust worker) in this process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from correlator.commands.options import (
    add_engine_options,
    duration_arg,
    engine_settings,
    positive_int,
)
from correlator.errors import BrokerError, CorrelatorError, UsageError
from correlator.stream.config import KafkaSecurity, WorkerConfig

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


def add_broker_options(parser: argparse.ArgumentParser) -> None:
    """--broker and --prefix with their `CORRELATOR_*` defaults (shared with topology publish)."""
    parser.add_argument(
        "--broker",
        default=_env("CORRELATOR_BROKER", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (env CORRELATOR_BROKER; default 127.0.0.1:9092)",
    )
    parser.add_argument(
        "--prefix",
        default=_env("CORRELATOR_PREFIX", ""),
        help="topic name prefix (env CORRELATOR_PREFIX)",
    )


def security_from_env() -> KafkaSecurity:
    """`CORRELATOR_SECURITY_PROTOCOL`, `CORRELATOR_SASL_MECHANISM|USERNAME|PASSWORD`,
    `CORRELATOR_SSL_CAFILE`."""
    return KafkaSecurity(
        security_protocol=_env("CORRELATOR_SECURITY_PROTOCOL", "PLAINTEXT") or "PLAINTEXT",
        sasl_mechanism=_env("CORRELATOR_SASL_MECHANISM"),
        sasl_username=_env("CORRELATOR_SASL_USERNAME"),
        sasl_password=_env("CORRELATOR_SASL_PASSWORD"),
        ssl_cafile=_env("CORRELATOR_SSL_CAFILE"),
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run the stream processor (Faust worker)",
        description="Run the stream processor: ingest, alert state, health and impact stages "
        "over Kafka. Flags default to CORRELATOR_* environment variables.",
    )
    add_broker_options(parser)
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
        "--guarantee",
        choices=["at_least_once", "exactly_once"],
        default=_env("CORRELATOR_GUARANTEE", "at_least_once"),
        help="Faust processing guarantee (default at_least_once)",
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
    add_engine_options(parser)
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> WorkerConfig:
    if args.guarantee not in ("at_least_once", "exactly_once"):
        raise UsageError(f"CORRELATOR_GUARANTEE: not a guarantee: {args.guarantee!r}")
    return WorkerConfig(
        broker=args.broker,
        topic_prefix=args.prefix,
        topology_path=args.topology,
        db_url=args.db,
        processing_guarantee=args.guarantee,
        security=security_from_env(),
        partitions=args.partitions,
        tick_interval=args.tick_interval / 1000,
        engine=engine_settings(args),
        web_enabled=args.web_port is not None,
        web_port=args.web_port or 6066,
        ingest_token=args.ingest_token or None,
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
        raise BrokerError(f"broker {config.bootstrap} did not answer within 30 s") from None
    except Exception as exc:
        raise BrokerError(f"cannot use broker {config.bootstrap}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if config.topology_path is not None:
        from correlator.topology_files import load_topology

        load_topology(config.topology_path)  # a bad file is one line, before any connection
    if config.db_url is not None:
        from correlator.store.history import open_store

        open_store(config.db_url).dispose()  # a bad URL or driver is one line, before starting
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
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0
