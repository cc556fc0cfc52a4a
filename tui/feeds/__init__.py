"""Where the war room's records come from. Widgets never touch a feed; the app's one worker does.

`IncidentFeed` is the seam: an async iterator of `Record`s plus `acknowledge` and `connected`.
"""

from __future__ import annotations

from tui.feeds.base import IncidentFeed, utc_now_rfc3339
from tui.feeds.db import DbFeed
from tui.feeds.kafka import KafkaFeed
from tui.feeds.memory import MemoryFeed
from tui.feeds.replay import ReplayFeed

__all__ = [
    "DbFeed",
    "IncidentFeed",
    "KafkaFeed",
    "MemoryFeed",
    "ReplayFeed",
    "utc_now_rfc3339",
]
