"""Posting to one webhook: a token-bucket rate limit, retries with exponential backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

log = logging.getLogger("correlator.notify")

MAX_BACKOFF = 30.0
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class RateLimiter:
    """Token bucket: `burst` posts back to back, then `rate` per second. The clock and sleep
    are injectable so the arithmetic is tested without waiting."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._last = clock()

    def delay(self) -> float:
        """Take a token; the seconds to wait before using it (0 when one is available)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1
        if self._tokens >= 0 or self.rate <= 0:
            return 0.0
        return -self._tokens / self.rate

    async def acquire(self) -> None:
        wait = self.delay()
        if wait > 0:
            await self._sleep(wait)


@dataclass(slots=True)
class DeliveryStats:
    """Per URL: posts delivered, retries, posts given up, events skipped by the policy."""

    delivered: int = 0
    retries: int = 0
    failed: int = 0


class Webhook:
    """One URL: posts bodies in order, rate-limited, retried; `post` returns True once the
    receiver answered 2xx, False when it gave up (the failure is logged and counted)."""

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        limiter: RateLimiter,
        *,
        attempts: int,
        backoff: float,
        stop_event: asyncio.Event,
    ) -> None:
        self.url = url
        self.session = session
        self.limiter = limiter
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.stop_event = stop_event
        self.stats = DeliveryStats()

    async def post(self, body: bytes) -> bool:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            await self.limiter.acquire()
            retry_after: float | None = None
            try:
                async with self.session.post(
                    self.url, data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        self.stats.delivered += 1
                        return True
                    problem = f"HTTP {response.status}"
                    if response.status not in RETRY_STATUSES:
                        break
                    retry_after = _retry_after(response.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if attempt == self.attempts:
                break
            wait = min(retry_after if retry_after is not None else delay, MAX_BACKOFF * 2)
            self.stats.retries += 1
            log.info("notify %s: %s, retry %d in %.1fs", self.url, problem, attempt, wait)
            try:
                await asyncio.wait_for(self.stop_event.wait(), timeout=wait)
                return False  # stopping: the event stays uncommitted and is redelivered
            except TimeoutError:
                pass
            delay = min(delay * 2, MAX_BACKOFF)
        self.stats.failed += 1
        log.warning("notify %s: giving up after %d attempts: %s", self.url, attempt, problem)
        return False


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: use our own backoff
