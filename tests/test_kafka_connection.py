"""`KafkaConnection`: flags over `CORRELATOR_*` variables over defaults, checked combinations,
the same flags on every Kafka command, and what each client is given. No broker here: the
secured broker round trips are in `test_kafka_secured.py`."""

from __future__ import annotations

import argparse
import ssl
import subprocess
import sys
from pathlib import Path

import faust
import pytest

from correlator.cli import build_parser
from correlator.commands.options import kafka_connection
from correlator.errors import UsageError
from correlator.kafka_connection import KafkaConnection

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = "topologies/acme-shop.yaml"
FLAGS = {
    "bootstrap": "--broker",
    "security_protocol": "--security-protocol",
    "sasl_mechanism": "--sasl-mechanism",
    "sasl_username": "--sasl-username",
    "sasl_password": "--sasl-password",
    "ssl_cafile": "--ssl-cafile",
}
VARIABLES = {
    "bootstrap": "CORRELATOR_BROKER",
    "security_protocol": "CORRELATOR_SECURITY_PROTOCOL",
    "sasl_mechanism": "CORRELATOR_SASL_MECHANISM",
    "sasl_username": "CORRELATOR_SASL_USERNAME",
    "sasl_password": "CORRELATOR_SASL_PASSWORD",
    "ssl_cafile": "CORRELATOR_SSL_CAFILE",
}

# Every command that talks to the cluster, with the arguments it needs besides the flags.
KAFKA_COMMANDS = {
    "worker": ["worker"],
    "warroom": ["warroom"],
    "simulate": ["simulate", "--topology", TOPOLOGY],
    "topology publish": ["topology", "publish", TOPOLOGY],
    "maintenance add": ["maintenance", "add", "--for", "1h", "--reason", "r", "--component", "x"],
    "maintenance list": ["maintenance", "list"],
    "maintenance end": ["maintenance", "end", "mw-1"],
}


@pytest.fixture
def ca_file() -> str:
    """A real CA certificate (self-signed; only the certificate is kept)."""
    return str(ROOT / "tests" / "data" / "test-ca.pem")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def sasl_ssl(ca_file: str) -> dict[str, str]:
    return {
        "bootstrap": "kafka-1:9093,kafka-2:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "svc",
        "sasl_password": "secret",
        "ssl_cafile": ca_file,
    }


def parse(command: str, *flags: str) -> argparse.Namespace:
    return build_parser().parse_args([*KAFKA_COMMANDS[command], *flags])


# --- precedence ---------------------------------------------------------------------------------


def test_defaults_are_a_plaintext_local_broker(clean_env: pytest.MonkeyPatch) -> None:
    assert kafka_connection(parse("worker")) == KafkaConnection("127.0.0.1:9092", "PLAINTEXT")


def test_variables_fill_every_setting(clean_env: pytest.MonkeyPatch, ca_file: str) -> None:
    wanted = sasl_ssl(ca_file)
    for name, value in wanted.items():
        clean_env.setenv(VARIABLES[name], value)
    assert kafka_connection(parse("worker")) == KafkaConnection(**wanted)


def test_flags_override_variables_one_by_one(
    clean_env: pytest.MonkeyPatch, ca_file: str, tmp_path: Path
) -> None:
    from_env = sasl_ssl(ca_file)
    for name, value in from_env.items():
        clean_env.setenv(VARIABLES[name], value)
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(Path(ca_file).read_bytes())
    overrides = {  # flag value, the setting it gives
        "bootstrap": ("kafka://other:9094", "other:9094"),
        "security_protocol": ("sasl_plaintext", "SASL_PLAINTEXT"),
        "sasl_mechanism": ("plain", "PLAIN"),
        "sasl_username": ("flag-user", "flag-user"),
        "sasl_password": ("flag-secret", "flag-secret"),
        "ssl_cafile": (str(other_ca), str(other_ca)),
    }
    for name, (flag, setting) in overrides.items():
        if name == "security_protocol":
            clean_env.delenv(VARIABLES["ssl_cafile"])  # a CA file needs TLS
        connection = kafka_connection(parse("worker", FLAGS[name], flag))
        expected = {**from_env, name: setting}
        if name == "security_protocol":
            expected["ssl_cafile"] = None
            clean_env.setenv(VARIABLES["ssl_cafile"], ca_file)
        assert connection == KafkaConnection(**expected), name


def test_every_kafka_command_takes_the_same_flags(
    clean_env: pytest.MonkeyPatch, ca_file: str
) -> None:
    wanted = sasl_ssl(ca_file)
    flags = [part for name, value in wanted.items() for part in (FLAGS[name], value)]
    for command in KAFKA_COMMANDS:
        assert kafka_connection(parse(command, *flags)) == KafkaConnection(**wanted), command


def test_the_password_never_shows_in_a_repr_or_description() -> None:
    connection = KafkaConnection.of(
        "b:9092",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="svc",
        sasl_password="hunter2",
    )
    assert "hunter2" not in repr(connection)
    assert connection.describe() == "b:9092 (SASL_PLAINTEXT as svc)"


# --- validation ---------------------------------------------------------------------------------

BAD = [
    ({"bootstrap": "kafka"}, "--broker: 'kafka' is not HOST:PORT"),
    ({"bootstrap": "a:9092,b:port"}, "--broker: 'b:port' is not HOST:PORT"),
    (
        {"security_protocol": "TLS"},
        "--security-protocol: 'TLS' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
    ),
    (
        {"security_protocol": "SASL_SSL"},
        "--security-protocol SASL_SSL needs --sasl-mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)",
    ),
    (
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "GSSAPI"},
        "--sasl-mechanism: 'GSSAPI' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
    ),
    (
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_password": "p"},
        "--sasl-mechanism PLAIN needs --sasl-username (or CORRELATOR_SASL_USERNAME)",
    ),
    (
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u"},
        "--sasl-mechanism PLAIN needs --sasl-password (or CORRELATOR_SASL_PASSWORD)",
    ),
    (
        {"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "p"},
        "--sasl-mechanism needs --security-protocol SASL_PLAINTEXT or SASL_SSL (it is PLAINTEXT)",
    ),
    (
        {"security_protocol": "SSL", "sasl_username": "u"},
        "--sasl-username/--sasl-password needs --security-protocol SASL_PLAINTEXT or SASL_SSL "
        "(it is SSL)",
    ),
    (
        {"ssl_cafile": "/etc/hosts"},
        "--ssl-cafile needs --security-protocol SSL or SASL_SSL (it is PLAINTEXT)",
    ),
    (
        {"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"},
        "--ssl-cafile: /nonexistent/ca.pem: no such file",
    ),
]


@pytest.mark.parametrize(("settings", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_combinations_are_one_line_errors(settings: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        KafkaConnection.from_env({}, **settings)
    assert str(caught.value) == message


def test_a_file_that_is_no_ca_bundle_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(UsageError, match=r"^--ssl-cafile: .*ca\.pem: not a CA bundle \("):
        KafkaConnection.of("b:9093", security_protocol="SSL", ssl_cafile=str(bogus))


MECHANISM_ALONE = (
    "correlator: error: --sasl-mechanism needs --security-protocol SASL_PLAINTEXT or SASL_SSL "
    "(it is PLAINTEXT)\n"
)


def test_cli_bad_settings_exit_2_with_one_line_and_no_traceback() -> None:
    env = {"PATH": "/usr/bin:/bin", "CORRELATOR_SASL_MECHANISM": "PLAIN"}
    result = subprocess.run(
        [sys.executable, "-m", "correlator", "simulate", "--topology", TOPOLOGY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (2, "", MECHANISM_ALONE)


@pytest.mark.parametrize("command", sorted(KAFKA_COMMANDS))
def test_every_kafka_command_checks_the_settings_before_connecting(
    command: str, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same check, from the variable, before any connection (the broker named does not
    exist) or anything else is done."""
    from correlator.cli import main

    clean_env.setenv("CORRELATOR_SASL_MECHANISM", "PLAIN")
    assert main([*KAFKA_COMMANDS[command], "--broker", "nowhere.invalid:9092"]) == 2
    assert capsys.readouterr().err == MECHANISM_ALONE


def test_warroom_live_flags_exclude_other_sources() -> None:
    from correlator.commands.warroom import build_feed

    args = build_parser().parse_args(["warroom", "--db", "sqlite://", "--sasl-username", "u"])
    with pytest.raises(UsageError, match=r"^--sasl-username and --db exclude each other$"):
        build_feed(args)


# --- what clients are given ---------------------------------------------------------------------


def test_plaintext_clients_get_only_the_servers_and_the_protocol() -> None:
    connection = KafkaConnection.of("kafka://a:9092, b:9092")
    assert connection.client_kwargs() == {
        "bootstrap_servers": "a:9092,b:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert connection.faust_broker() == "kafka://a:9092;kafka://b:9092"
    assert connection.faust_credentials() is None


def test_sasl_ssl_clients_get_credentials_and_a_verifying_tls_context(ca_file: str) -> None:
    connection = KafkaConnection.of(**sasl_ssl(ca_file))  # type: ignore[arg-type]
    kwargs = connection.client_kwargs()
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "bootstrap_servers": "kafka-1:9093,kafka-2:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "secret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    credentials = connection.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
    )
    assert (credentials.username, credentials.password) == ("svc", "secret")


def test_faust_and_aiokafka_agree_on_the_protocol() -> None:
    """Faust derives SASL_SSL from the presence of a TLS context; it must match aiokafka's."""
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    for protocol in ("SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        sasl = protocol.startswith("SASL")
        connection = KafkaConnection.of(
            "b:9093",
            security_protocol=protocol,
            sasl_mechanism="PLAIN" if sasl else None,
            sasl_username="u" if sasl else None,
            sasl_password="p" if sasl else None,
        )
        faust_side = credentials_to_aiokafka_auth(connection.faust_credentials())
        ours = connection.security_kwargs()
        assert faust_side["security_protocol"] == ours["security_protocol"] == protocol
        assert faust_side.get("sasl_plain_username") == ours.get("sasl_plain_username")
