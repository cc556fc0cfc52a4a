"""Notification settings: where to post, in which shape, for which severities, how fast."""

from __future__ import annotations

from dataclasses import dataclass, field

from correlator.notify.messages import Format
from correlator.notify.policy import SEVERITIES


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """`--notify URL…` and its companions. Rates are per URL."""

    urls: tuple[str, ...]
    format: Format = "json"
    severities: frozenset[str] = field(default_factory=lambda: frozenset(SEVERITIES))
    rate: float = 1.0
    """Posts per second to one URL (Slack's incoming webhooks allow about one)."""
    burst: int = 5
    """Posts allowed back to back before the rate applies."""
    attempts: int = 5
    """Tries per post (connection errors, timeouts, 429 and 5xx are retried)."""
    backoff: float = 0.5
    """First retry delay in seconds, doubled each time (capped at 30 s; a 429's Retry-After
    wins)."""
    timeout: float = 10.0
    """Seconds one HTTP request may take."""
