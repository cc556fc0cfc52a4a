"""docker-compose.yml and Dockerfile, checked without a Docker engine: services, commands that
the CLI really parses, `CORRELATOR_*` variables the package really reads, consistent ports."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from correlator.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SOURCES = "\n".join(p.read_text() for p in sorted((ROOT / "correlator").rglob("*.py")))


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _argv(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _host_port(published: str) -> tuple[str, str]:
    parts = str(published).split(":")
    return parts[-2], parts[-1]


def test_the_real_parts_are_all_there() -> None:
    assert {"kafka", "postgres", "worker", "simulator"} <= set(SERVICES)
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    for name in ("worker", "simulator"):
        assert SERVICES[name]["build"] == "."


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if "command" in s])
def test_every_command_is_a_correlator_subcommand_that_parses(name: str) -> None:
    argv = _argv(SERVICES[name])
    assert argv[0] == "correlator"
    try:
        args, extra = build_parser().parse_known_args(argv[1:])
    except SystemExit as exc:  # an unknown subcommand ends here too ("invalid choice")
        pytest.fail(f"{name}: `{shlex.join(argv)}` does not parse (exit {exc.code})")
    assert args.command == argv[1], f"{name}: `correlator {argv[1]}` is not a subcommand"
    assert extra == [], f"{name}: arguments the CLI does not know: {extra}"


def test_every_correlator_variable_is_one_the_package_reads() -> None:
    used = {k for s in SERVICES.values() for k in _env(s) if k.startswith("CORRELATOR_")}
    assert used  # the worker is configured through them
    unknown = sorted(k for k in used if not re.search(rf"\b{k}\b", SOURCES))
    assert unknown == []


def test_clients_reach_kafka_on_an_advertised_listener() -> None:
    kafka = _env(SERVICES["kafka"])
    listeners = {
        name: port
        for name, port in re.findall(r"([A-Z_]+)://[^:,]*:(\d+)", kafka["KAFKA_LISTENERS"])
    }
    advertised = dict(re.findall(r"([A-Z_]+)://([^,]+)", kafka["KAFKA_ADVERTISED_LISTENERS"]))
    for listener, address in advertised.items():
        assert address.rsplit(":", 1)[1] == listeners[listener], listener
    voters = kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert voters == f"{kafka['KAFKA_NODE_ID']}@kafka:{listeners['CONTROLLER']}"
    for name, service in SERVICES.items():
        broker = _env(service).get("CORRELATOR_BROKER")
        if broker is not None:
            assert broker in advertised.values(), name
            assert broker.startswith("kafka:"), name
            assert "kafka" in service.get("depends_on", {}), name
    # The host listener is published on the port it advertises.
    host = advertised["HOST"]
    published = {_host_port(p) for p in SERVICES["kafka"]["ports"]}
    assert (host.rsplit(":", 1)[1],) * 2 in published


def test_the_worker_reaches_postgres_with_its_credentials() -> None:
    pg = _env(SERVICES["postgres"])
    db = urlsplit(_env(SERVICES["worker"])["CORRELATOR_DB"])
    assert db.scheme in ("postgresql", "postgresql+psycopg")
    assert (db.hostname, db.port, db.username, db.password, db.path) == (
        "postgres",
        5432,
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
        "/" + pg["POSTGRES_DB"],
    )


def test_ports_are_consistent() -> None:
    host_ports = [_host_port(p)[0] for s in SERVICES.values() for p in s.get("ports", ())]
    assert len(host_ports) == len(set(host_ports))
    assert ("6066", "6066") in {_host_port(p) for p in SERVICES["worker"]["ports"]}
    assert "EXPOSE 6066" in (ROOT / "Dockerfile").read_text()


def test_topologies_named_in_the_services_exist() -> None:
    for name, service in SERVICES.items():
        mounts = {
            target: ROOT / source.removeprefix("./")
            for source, target, *_ in (str(v).split(":") for v in service.get("volumes", ()))
            if source.startswith("./")
        }
        paths = [_env(service).get("CORRELATOR_TOPOLOGY", "")]
        if "command" in service:
            argv = _argv(service)
            paths += [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--topology", "-t")]
        for path in filter(None, paths):
            matches = [src / path.removeprefix(t + "/") for t, src in mounts.items() if
                       path.startswith(t + "/")]  # fmt: skip
            assert matches and all(m.is_file() for m in matches), (name, path)


def test_the_dockerfile_installs_the_package_on_python_311_slim() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"^RUN pip install \.", text, re.M)
    for source in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
