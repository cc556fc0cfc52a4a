"""Keeping the worker's log about the product: retried startup races at DEBUG, no terminal
control codes in a log file.

On a fresh broker the consumer group coordinator is not available for the first second or so;
aiokafka retries and succeeds, but logs each try at ERROR ("Group Coordinator Request failed"),
so every demo and every first start begins with an error that is not one. Likewise a client that
knows no broker yet (or any more, while it stops) logs "Unable to update metadata from []" at
ERROR: there was nobody to ask, and the client retries or is closing.
"""

from __future__ import annotations

import logging
from typing import Any, Final

RETRIED_AT_STARTUP: Final = (
    "GroupCoordinatorNotAvailableError",
    "NotCoordinatorForGroupError",
    "CoordinatorLoadInProgressError",
)
"""Retriable coordinator errors aiokafka logs at ERROR while it keeps retrying."""


class RetriedStartupErrors(logging.Filter):
    """Turn those two aiokafka ERROR records into DEBUG ones (dropped unless DEBUG is enabled);
    every other record passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not is_retried_startup_error(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def is_retried_startup_error(record: logging.LogRecord) -> bool:
    args = record.args if isinstance(record.args, tuple) else ()
    message = str(record.msg)
    if message.startswith("Group Coordinator Request failed") and args:
        return type(args[0]).__name__ in RETRIED_AT_STARTUP
    if message.startswith("Unable to update metadata from") and args:
        return args[0] == []
    return False


LOGGERS: Final = ("aiokafka.consumer.group_coordinator", "aiokafka.client")


def quiet_retried_startup_errors() -> None:
    """Install the filter on the aiokafka loggers that write those records (once)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RetriedStartupErrors) for f in logger.filters):
            logger.addFilter(RetriedStartupErrors())


def no_spinner_unless_terminal(worker: Any) -> None:
    """Faust's worker draws a progress spinner (cursor-hiding escape codes) on its stdout even
    when that is a log file; keep it only on a terminal."""
    stdout = getattr(worker, "stdout", None)
    isatty = getattr(stdout, "isatty", None)
    if not (callable(isatty) and isatty()):
        worker.spinner = None
