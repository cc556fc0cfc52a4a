"""Health: per component, `HealthBook` from the core (DESIGN §2, §4).

Consumes `alert.transitions` (batches, partitioned by component) with one Faust agent. Active
alerts per component live in the `component_alerts` table (written on transitions only). Every
change of a component's health, counts or newest alerts goes to `impact.input`, in order: nothing
is folded by arrival time, so an outage that fired and resolved inside a backlog still reaches
the impact stage as two changes (DESIGN §2). The newest record of a batch per component goes to
`component.health` (compacted).
"""

from __future__ import annotations

from typing import Any

from correlator.core.stages import HealthOutput, HealthPartition, TransitionIn
from correlator.stream.assignment import assigned, drop_partition, on_revoked, recovered
from correlator.stream.codec import (
    alert_from_hop,
    alert_to_hop,
    dumps,
    impact_health,
    loads,
    partition_for,
)
from correlator.stream.context import StageContext
from correlator.stream.tables import component_alerts_table
from correlator.wire import health_to_dict

Output = tuple[str, bytes | None, bytes | None, int | None]
_SEP = "\x1f"


def register(app: Any, ctx: StageContext) -> None:
    config = ctx.config
    topics = ctx.topics
    n = config.partitions
    topic = app.topic(
        topics.transitions, partitions=n, key_serializer="raw", value_serializer="raw"
    )
    table = component_alerts_table(app, config)
    parts: dict[int, HealthPartition] = {}
    on_revoked(app, topics.transitions, lambda p: drop_partition(parts, p))

    def publish(out: HealthOutput) -> list[Output]:
        records: list[Output] = [
            (topics.impact_input, record.id.encode(), impact_health(record, received), 0)
            for record, received in zip(out.records, out.received_at, strict=True)
        ]
        records.extend(
            (topics.health, c.encode(), dumps(health_to_dict(r)), partition_for(c, n))
            for c, r in out.latest().items()
        )
        return records

    def rebuild(partition: int) -> list[Output]:
        entries = []
        for key, value in list(table.items()):
            if value is None:
                continue
            component, fp = key.decode().split(_SEP, 1)
            if partition_for(component, n) == partition:
                d = loads(value)
                entries.append((component, fp, alert_from_hop(d["alert"]), d["at"]))
        part, out = HealthPartition.restored(entries)
        parts[partition] = part
        return publish(out)

    decorate = app.agent(topic, name=f"{config.app_id}.health", concurrency=1)

    @decorate  # type: ignore[untyped-decorator]
    async def health(stream: Any) -> None:
        async for event in stream.events():
            partition = event.message.partition
            records: list[Output] = []
            if partition not in parts:
                records.extend(rebuild(partition))
            items = [
                TransitionIn(
                    d["component"],
                    d["fingerprint"],
                    d["active"],
                    alert_from_hop(d["alert"]),
                    d["at"],
                )
                for d in loads(event.value)["transitions"]
            ]
            out = parts[partition].apply(items)
            for component, fp, alert, at in out.writes:
                key = f"{component}{_SEP}{fp}".encode()
                if alert is None:
                    if key in table:
                        del table[key]
                else:
                    table[key] = dumps({"alert": alert_to_hop(alert), "at": at})
            records.extend(publish(out))
            await ctx.send(records)
            ctx.count("health.events")

    # A partition gained in a rebalance is rebuilt (and its health published again) at once,
    # not when its first new input arrives.
    decorate = app.timer(0.25, name=f"{config.app_id}.health_rebuild")

    @decorate  # type: ignore[untyped-decorator]
    async def health_rebuild() -> None:
        if not recovered(app):
            return
        records: list[Output] = []
        for partition in assigned(app, topics.transitions) - parts.keys():
            records.extend(rebuild(partition))
        await ctx.send(records)
