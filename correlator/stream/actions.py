"""Acknowledgements and maintenance windows: `incident.actions` → `impact.input`, so impact
sees them in its one log."""

from __future__ import annotations

from typing import Any

import orjson

from correlator.stream.context import StageContext, log
from correlator.stream.maintenance import window_of
from correlator.wire import impact_ack, loads


def register(app: Any, ctx: StageContext) -> None:
    topics = ctx.topics
    topic = app.topic(topics.actions, partitions=1, key_serializer="raw", value_serializer="raw")

    decorate = app.agent(topic, name=f"{ctx.config.app_id}.actions", concurrency=1)

    @decorate  # type: ignore[untyped-decorator]
    async def actions(stream: Any) -> None:
        async for value in stream:
            try:
                action = loads(value)
            except orjson.JSONDecodeError:
                action = None
            if isinstance(action, dict) and action.get("type") == "maintenance":
                window = window_of(value)
                if window is not None:
                    await ctx.send([(topics.impact_input, window.id.encode(), value, 0)])
                continue
            if not isinstance(action, dict) or action.get("type") != "ack":
                log.warning("actions: ignoring a record that is not an ack: %r", value[:200])
                continue
            key = str(action.get("incident", "")).encode()
            await ctx.send([(topics.impact_input, key, impact_ack(action), 0)])
