"""How to reach the Kafka cluster: one value used by every Kafka client correlator builds.

The worker's Faust app, its own aiokafka clients (ingest, readers, the history sink, the
notifier, the ingress health check), the war room's live feed, the simulator, topic creation and
the commands that publish to the cluster (topology, maintenance) all take a `KafkaConnection`,
so a secured cluster works for each of them the same way. It is filled from the same flags and
`CORRELATOR_*` variables everywhere (`correlator.commands.options.add_kafka_options`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from correlator.errors import UsageError

DEFAULT_BOOTSTRAP: Final = "127.0.0.1:9092"
PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
"""The SASL mechanisms that need nothing but a username and a password."""

MAX_RECORD_BYTES: Final = 64 * 1024 * 1024
"""The largest record correlator writes or reads: `max.message.bytes` of its topics (but
`alerts.raw`, sized from the ingress limit), its producers' request size and its consumers'
fetch size. A storm's incident lists every component (DESIGN §6): about 300 bytes each, so
3,500 components pass Kafka's 1 MB default; a 50,000-component topology is about 9 MB."""

ENV_BROKER: Final = "CORRELATOR_BROKER"
ENV_SECURITY_PROTOCOL: Final = "CORRELATOR_SECURITY_PROTOCOL"
ENV_SASL_MECHANISM: Final = "CORRELATOR_SASL_MECHANISM"
ENV_SASL_USERNAME: Final = "CORRELATOR_SASL_USERNAME"
ENV_SASL_PASSWORD: Final = "CORRELATOR_SASL_PASSWORD"
ENV_SSL_CAFILE: Final = "CORRELATOR_SSL_CAFILE"


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Bootstrap servers and client security. Build it with `KafkaConnection.of`, which checks
    the combination; the plain constructor trusts its caller (tests, a broker we started)."""

    bootstrap: str = DEFAULT_BOOTSTRAP
    """`host:port[,host:port…]`."""
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    """CA bundle to verify the brokers' certificates with (default: the system's)."""

    @classmethod
    def of(
        cls,
        bootstrap: str | None = None,
        *,
        security_protocol: str | None = None,
        sasl_mechanism: str | None = None,
        sasl_username: str | None = None,
        sasl_password: str | None = None,
        ssl_cafile: str | None = None,
    ) -> KafkaConnection:
        """A checked connection; raises `UsageError` (one line, naming the flag) when the
        settings cannot work together. Empty strings count as not given."""
        servers = _bootstrap(bootstrap or DEFAULT_BOOTSTRAP)
        protocol = (security_protocol or "PLAINTEXT").strip().upper()
        if protocol not in PROTOCOLS:
            raise UsageError(
                f"--security-protocol: {security_protocol!r} is not one of {', '.join(PROTOCOLS)}"
            )
        mechanism = (sasl_mechanism or "").strip().upper() or None
        username = sasl_username or None
        password = sasl_password or None
        cafile = ssl_cafile or None
        if protocol.startswith("SASL_"):
            if mechanism is None:
                raise UsageError(
                    f"--security-protocol {protocol} needs --sasl-mechanism "
                    f"({', '.join(MECHANISMS)})"
                )
            if mechanism not in MECHANISMS:
                raise UsageError(
                    f"--sasl-mechanism: {sasl_mechanism!r} is not one of {', '.join(MECHANISMS)}"
                )
            if username is None or password is None:
                missing = "--sasl-username" if username is None else "--sasl-password"
                raise UsageError(
                    f"--sasl-mechanism {mechanism} needs {missing} "
                    f"(or {ENV_SASL_USERNAME if username is None else ENV_SASL_PASSWORD})"
                )
        elif mechanism is not None or username is not None or password is not None:
            given = "--sasl-mechanism" if mechanism else "--sasl-username/--sasl-password"
            raise UsageError(
                f"{given} needs --security-protocol SASL_PLAINTEXT or SASL_SSL (it is {protocol})"
            )
        if cafile is not None:
            if not protocol.endswith("SSL"):
                raise UsageError(
                    f"--ssl-cafile needs --security-protocol SSL or SASL_SSL (it is {protocol})"
                )
            if not os.path.isfile(cafile):
                raise UsageError(f"--ssl-cafile: {cafile}: no such file")
            try:
                ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"--ssl-cafile: {cafile}: not a CA bundle ({exc})") from None
        return cls(servers, protocol, mechanism, username, password, cafile)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: str | None) -> KafkaConnection:
        """`of(...)` from flags, each falling back to its `CORRELATOR_*` variable when the flag
        was not given (None), then to the default."""
        env = os.environ if env is None else env
        names = {
            "bootstrap": ENV_BROKER,
            "security_protocol": ENV_SECURITY_PROTOCOL,
            "sasl_mechanism": ENV_SASL_MECHANISM,
            "sasl_username": ENV_SASL_USERNAME,
            "sasl_password": ENV_SASL_PASSWORD,
            "ssl_cafile": ENV_SSL_CAFILE,
        }
        unknown = set(flags) - set(names)
        if unknown:
            raise TypeError(f"unknown Kafka settings: {', '.join(sorted(unknown))}")
        values = {
            name: flags[name] if flags.get(name) is not None else env.get(variable)
            for name, variable in names.items()
        }
        return cls.of(
            values["bootstrap"],
            security_protocol=values["security_protocol"],
            sasl_mechanism=values["sasl_mechanism"],
            sasl_username=values["sasl_username"],
            sasl_password=values["sasl_password"],
            ssl_cafile=values["ssl_cafile"],
        )

    @property
    def secured(self) -> bool:
        return self.security_protocol != "PLAINTEXT"

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying TLS context for SSL and SASL_SSL (with the CA file when given)."""
        if not self.security_protocol.endswith("SSL"):
            return None
        return ssl.create_default_context(cafile=self.ssl_cafile)

    def security_kwargs(self) -> dict[str, Any]:
        """aiokafka's security keyword arguments (no bootstrap servers)."""
        kwargs: dict[str, Any] = {"security_protocol": self.security_protocol}
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.sasl_mechanism is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments every aiokafka client (producer, consumer, admin) gets."""
        return {"bootstrap_servers": self.bootstrap, **self.security_kwargs()}

    def producer(self, **kwargs: Any) -> Any:
        """An `AIOKafkaProducer` on this cluster (not started); records up to
        `MAX_RECORD_BYTES` unless `max_request_size` says otherwise."""
        from aiokafka import AIOKafkaProducer

        kwargs.setdefault("max_request_size", MAX_RECORD_BYTES)
        return AIOKafkaProducer(**self.client_kwargs(), **kwargs)

    def consumer(self, *topics: str, **kwargs: Any) -> Any:
        """An `AIOKafkaConsumer` on this cluster (not started); fetches records up to
        `MAX_RECORD_BYTES` unless `max_partition_fetch_bytes` says otherwise."""
        from aiokafka import AIOKafkaConsumer

        kwargs.setdefault("max_partition_fetch_bytes", MAX_RECORD_BYTES)
        return AIOKafkaConsumer(*topics, **self.client_kwargs(), **kwargs)

    def admin(self, **kwargs: Any) -> Any:
        """An `AIOKafkaAdminClient` on this cluster (not started)."""
        from aiokafka.admin import AIOKafkaAdminClient

        return AIOKafkaAdminClient(**self.client_kwargs(), **kwargs)

    def faust_broker(self) -> str:
        """Faust's `broker` setting: the same servers as `kafka://` URLs."""
        return ";".join(f"kafka://{server}" for server in self.bootstrap.split(","))

    def faust_credentials(self) -> Any:
        """Faust's `broker_credentials`, or None for PLAINTEXT."""
        import faust

        if self.sasl_mechanism is not None:
            # Faust picks SASL_SSL exactly when it is given a TLS context.
            return faust.SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password,
                mechanism=self.sasl_mechanism,
                ssl_context=self.ssl_context(),
            )
        context = self.ssl_context()
        return None if context is None else faust.SSLCredentials(context)

    async def diagnose(self, timeout: float = 5.0) -> KafkaProblem | None:
        """Why clients cannot connect, or None when one server accepts a connection.

        aiokafka reports every failed start as "Unable to bootstrap from …" and only logs the
        cause (refused connection, wrong credentials, TLS); this opens one connection per server
        itself, with the same settings, to name it.
        """
        from aiokafka.conn import create_conn
        from aiokafka.protocol.metadata import MetadataRequest

        problems: list[KafkaProblem] = []
        for server in self.bootstrap.split(","):
            host, _, port = server.rpartition(":")
            conn = None
            try:
                conn = await asyncio.wait_for(
                    create_conn(
                        host.strip("[]"),
                        int(port),
                        client_id="correlator-diagnose",
                        request_timeout_ms=int(timeout * 1000),
                        **self.security_kwargs(),
                    ),
                    timeout,
                )
                # A listener that expects another protocol accepts the TCP connection and only
                # drops it at the first request: ask for metadata, as clients do first.
                await asyncio.wait_for(conn.send(MetadataRequest([])), timeout)
            except Exception as exc:  # every failure is a diagnosis here, never raised
                problems.append(self._problem(server, exc))
                continue
            finally:
                if conn is not None:
                    conn.close()
            return None
        return min(problems, key=lambda p: p.unreachable)  # a reachable server's reason first

    def _problem(self, server: str, exc: BaseException) -> KafkaProblem:
        name = type(exc).__name__
        text = str(exc)
        if name == "SaslAuthenticationFailed" or "Authentication failed" in text:
            return KafkaProblem(
                False,
                f"{server} refused the credentials of {self.sasl_username!r} "
                f"({self.sasl_mechanism}): {text.split(': ', 1)[-1]}",
            )
        if isinstance(exc, ssl.SSLError | ssl.CertificateError):
            return KafkaProblem(False, f"TLS with {server} failed: {exc}")
        if isinstance(exc, ConnectionRefusedError | TimeoutError | socket.gaierror):
            return KafkaProblem(True, f"no broker at {server}")
        if isinstance(exc, OSError):
            return KafkaProblem(True, f"no broker at {server} ({exc.strerror or exc})")
        return KafkaProblem(
            False,
            f"{server} closed the connection ({name}: {text or 'no reason given'}): does its "
            f"listener expect --security-protocol {self.security_protocol}?",
        )

    def describe(self) -> str:
        """The servers and, when secured, how (never the password): for messages."""
        if not self.secured:
            return self.bootstrap
        who = f" as {self.sasl_username}" if self.sasl_username else ""
        return f"{self.bootstrap} ({self.security_protocol}{who})"


@dataclass(frozen=True, slots=True)
class KafkaProblem:
    """Why a connection failed: `unreachable` when no broker answered at all (as opposed to a
    broker that refused the credentials or the protocol); `message` is one line."""

    unreachable: bool
    message: str


async def failure_reason(kafka: KafkaConnection, exc: BaseException) -> str:
    """One line for a client that failed to start: aiokafka's own message, or the cause its
    "Unable to bootstrap" hides (`KafkaConnection.diagnose`)."""
    text = str(exc) or type(exc).__name__
    if "Unable to bootstrap" not in text and not isinstance(exc, TimeoutError):
        return text
    problem = await kafka.diagnose()
    return text if problem is None else problem.message


def _bootstrap(text: str) -> str:
    """`host:port[,host:port…]`; a `kafka://` prefix (the worker's old form) is accepted."""
    servers = []
    for part in text.split(","):
        server = part.strip().removeprefix("kafka://").rstrip("/")
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"--broker: {part.strip()!r} is not HOST:PORT")
        servers.append(server)
    return ",".join(servers)
