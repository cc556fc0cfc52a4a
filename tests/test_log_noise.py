"""The worker's log stays about the product: retried startup races at DEBUG, no spinner codes."""

from __future__ import annotations

import io
import logging

import pytest
from aiokafka.errors import GroupAuthorizationFailedError, GroupCoordinatorNotAvailableError

from correlator.log_noise import (
    RetriedStartupErrors,
    no_spinner_unless_terminal,
    quiet_retried_startup_errors,
)


def record(msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("aiokafka", level, __file__, 1, msg, args, None)


def test_retried_coordinator_and_empty_metadata_errors_are_debug() -> None:
    quiet = RetriedStartupErrors()
    retried = record("Group Coordinator Request failed: %s", GroupCoordinatorNotAvailableError())
    nobody = record("Unable to update metadata from %s", [])
    assert not quiet.filter(retried)  # dropped: the root logger is not at DEBUG
    assert (retried.levelname, nobody.levelname) == ("DEBUG", "ERROR")
    assert not quiet.filter(nobody)
    assert nobody.levelname == "DEBUG"


def test_real_errors_pass_unchanged() -> None:
    quiet = RetriedStartupErrors()
    denied = record("Group Coordinator Request failed: %s", GroupAuthorizationFailedError())
    nodes = record("Unable to update metadata from %s", [1, 2])
    other = record("something else failed")
    assert all(quiet.filter(r) for r in (denied, nodes, other))
    assert {r.levelname for r in (denied, nodes, other)} == {"ERROR"}


def test_installed_on_aiokafka_the_log_shows_only_real_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_retried_startup_errors()
    quiet_retried_startup_errors()  # once is enough; twice changes nothing
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    assert sum(isinstance(f, RetriedStartupErrors) for f in coordinator.filters) == 1
    with caplog.at_level(logging.WARNING):
        coordinator.error(
            "Group Coordinator Request failed: %s", GroupCoordinatorNotAvailableError()
        )
        logging.getLogger("aiokafka.client").error("Unable to update metadata from %s", [])
        coordinator.error("Group Coordinator Request failed: %s", GroupAuthorizationFailedError())
    assert [(r.levelname, r.getMessage()[:40]) for r in caplog.records] == [
        ("ERROR", "Group Coordinator Request failed: [Error")
    ]


class Worker:
    def __init__(self, stdout: io.TextIOBase) -> None:
        self.stdout = stdout
        self.spinner: object | None = object()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_spinner_is_kept_only_on_a_terminal() -> None:
    to_file, to_terminal = Worker(io.StringIO()), Worker(Terminal())
    no_spinner_unless_terminal(to_file)
    no_spinner_unless_terminal(to_terminal)
    assert to_file.spinner is None
    assert to_terminal.spinner is not None
