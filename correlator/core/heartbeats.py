"""Heartbeat sources (DESIGN §4): who vouched for being alive, and who has gone silent."""

from __future__ import annotations

from correlator.core.timefmt import Millis


class Heartbeats:
    """The last heartbeat per source; reports the set of stale sources when it changes."""

    def __init__(self, stale_after: Millis) -> None:
        self.stale_after = stale_after
        self.last_seen: dict[str, Millis] = {}
        self._stale: tuple[str, ...] = ()

    def seen(self, source: str, at: Millis) -> None:
        """A heartbeat from `source` at event time `at` (an older one changes nothing)."""
        self.last_seen[source] = max(self.last_seen.get(source, at), at)

    def stale_change(self, now: Millis) -> tuple[str, ...] | None:
        """The sources silent for longer than `stale_after`, sorted, when that set changed."""
        stale = tuple(
            sorted(s for s, seen in self.last_seen.items() if now - seen > self.stale_after)
        )
        if stale == self._stale:
            return None
        self._stale = stale
        return stale
