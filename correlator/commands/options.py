"""Flags shared by several commands: the engine's (replay, worker, war room replay) and the
Kafka connection's (every command that talks to the cluster)."""

from __future__ import annotations

import argparse
import os
import re
from fractions import Fraction

from correlator.core.engine import EngineSettings
from correlator.core.incidents import IncidentSettings
from correlator.core.timefmt import Millis
from correlator.errors import UsageError
from correlator.kafka_connection import DEFAULT_BOOTSTRAP, MECHANISMS, PROTOCOLS, KafkaConnection

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, None: 1000}


def parse_duration(text: str) -> Millis:
    """`250ms`, `30s`, `10m`, `1h`, `7d`; a bare number is seconds."""
    m = _DURATION.match(text.strip())
    if m is None:
        raise UsageError(f"not a duration: {text!r} (use e.g. 30s, 10m, 1h)")
    return int(float(m.group(1)) * _UNIT_MS[m.group(2)])


def duration_arg(text: str) -> Millis:
    """argparse type: a duration (see `parse_duration`), in milliseconds."""
    try:
        return parse_duration(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fraction_arg(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("correlation")
    group.add_argument(
        "--resolve-after",
        type=duration_arg,
        default=0,
        help="resolve an incident this long after its last problem (default 0s)",
    )
    group.add_argument(
        "--reopen-window",
        type=duration_arg,
        default=600_000,
        help="reopen a resolved incident within this window (default 10m)",
    )
    group.add_argument(
        "--sev1-fraction",
        type=_fraction_arg,
        default=Fraction(1, 10),
        help="SEV1 when tier-1/2 customers affected reach this share (default 0.1)",
    )
    group.add_argument(
        "--combination-bound",
        type=positive_int,
        default=4096,
        help="sample past this many combinations per segment (default 4096)",
    )
    group.add_argument(
        "--retention",
        type=duration_arg,
        default=7 * 86_400_000,
        help="tombstone ended incidents on the incidents topic after this long (default 7d)",
    )


def engine_settings(args: argparse.Namespace) -> EngineSettings:
    return EngineSettings(
        incidents=IncidentSettings(
            resolve_after=args.resolve_after,
            reopen_window=args.reopen_window,
            sev1_fraction=args.sev1_fraction,
            combination_bound=args.combination_bound,
            retention=args.retention,
        )
    )


def add_kafka_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The Kafka connection flags, the same on every command that talks to the cluster. Each
    defaults to its `CORRELATOR_*` variable, read when the command runs (`kafka_connection`)."""
    parser.add_argument(
        "--broker",
        default=None,
        metavar="HOST:PORT[,…]",
        help=f"Kafka bootstrap servers (env CORRELATOR_BROKER; default {DEFAULT_BOOTSTRAP})",
    )
    parser.add_argument(
        "--security-protocol",
        default=None,
        metavar="P",
        help=f"{', '.join(PROTOCOLS)} (env CORRELATOR_SECURITY_PROTOCOL; default PLAINTEXT)",
    )
    parser.add_argument(
        "--sasl-mechanism",
        default=None,
        metavar="M",
        help=f"{', '.join(MECHANISMS)} (env CORRELATOR_SASL_MECHANISM)",
    )
    parser.add_argument(
        "--sasl-username",
        default=None,
        metavar="NAME",
        help="SASL user name (env CORRELATOR_SASL_USERNAME)",
    )
    parser.add_argument(
        "--sasl-password",
        default=None,
        metavar="PW",
        help="SASL password (env CORRELATOR_SASL_PASSWORD; prefer the variable: flags show "
        "in process lists)",
    )
    parser.add_argument(
        "--ssl-cafile",
        default=None,
        metavar="FILE",
        help="CA bundle for the brokers' certificates with SSL/SASL_SSL (env "
        "CORRELATOR_SSL_CAFILE; default the system's)",
    )


def kafka_connection(args: argparse.Namespace) -> KafkaConnection:
    """The connection `add_kafka_options`' flags ask for: a flag wins over its variable, a
    variable over the default. Raises `UsageError` for settings that cannot work together."""
    return KafkaConnection.from_env(
        bootstrap=args.broker,
        security_protocol=args.security_protocol,
        sasl_mechanism=args.sasl_mechanism,
        sasl_username=args.sasl_username,
        sasl_password=args.sasl_password,
        ssl_cafile=args.ssl_cafile,
    )


def add_prefix_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--prefix, defaulting to `CORRELATOR_PREFIX` when the command runs (`topic_prefix`)."""
    parser.add_argument(
        "--prefix",
        default=None,
        help="topic name prefix, prepended verbatim (env CORRELATOR_PREFIX; default none)",
    )


def topic_prefix(args: argparse.Namespace) -> str:
    """--prefix, else `CORRELATOR_PREFIX`, else none."""
    if args.prefix is not None:
        return str(args.prefix)
    return os.environ.get("CORRELATOR_PREFIX", "")


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """The Kafka connection flags and --prefix: what a command needs to use the pipeline's
    topics on the cluster."""
    add_kafka_options(parser)
    add_prefix_option(parser)
