"""The exception hierarchy. User-facing errors print as one line without a traceback."""

from __future__ import annotations


class CorrelatorError(Exception):
    """Root of every error correlator raises on purpose."""


class TopologyError(CorrelatorError):
    """A topology file is unreadable or invalid; the message names the file, node and problem."""


class UsageError(CorrelatorError):
    """A bad flag, file or argument on the command line."""


class BrokerError(CorrelatorError):
    """The Kafka broker cannot be started or reached."""
