"""Comparing the stream's incident history with `correlator replay` of the same alerts.

Ids and `seq` may differ between the two (DESIGN §2); everything else must agree: per incident,
the types of its events in order and the figures of each snapshot. Also the stream's own
integrity: per incident `seq` 1..n without gaps, one `incident.opened`, and records with the
same id and `seq` identical (an at-least-once redelivery is the same record again).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from correlator.core.timefmt import format_time
from correlator.replay import Replay, read_inputs
from correlator.store.history import open_store
from correlator.store.models import IncidentEvent, as_utc
from correlator.topology_files import load_topology
from correlator.wire import event_to_dict

Event = dict[str, Any]


def replay_events(topology: Path, lines: list[bytes], tmp_path: Path) -> list[Event]:
    """The incident events `correlator replay` prints for these alert lines."""
    path = tmp_path / f"replay-{len(lines)}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    replay = Replay(load_topology(topology))
    return [
        event_to_dict(event)
        for _, result in replay.run(read_inputs([path]))
        for event in result.events
    ]


def _step(event: Event) -> tuple[Any, ...]:
    s = event["incident"]
    return (
        event["type"],
        event["at"],
        s["status"],
        s["severity"],
        s["customers_affected"],
        s["customers_degraded"],
        s["peak_customers_affected"],
        s["opened_at"],
        s["resolved_at"],
        tuple(s["root_causes"]),
        tuple((b["id"], b["state"], b["impact"]) for b in s["business_services"]),
        tuple((c["id"], c["state"], c["root_cause"], c["alert_count"]) for c in s["components"]),
        s["alert_count"],
    )


def by_incident(events: Iterable[Event]) -> dict[str, list[Event]]:
    """Each incident's distinct events in `seq` order (redeliveries folded)."""
    out: dict[str, dict[int, Event]] = defaultdict(dict)
    for e in events:
        out[e["incident"]["id"]].setdefault(e["seq"], e)
    return {i: [seqs[k] for k in sorted(seqs)] for i, seqs in out.items()}


def histories(events: Iterable[Event]) -> list[tuple[tuple[Any, ...], ...]]:
    """Every incident's history without its id and seqs, in a stable order."""
    return sorted(tuple(_step(e) for e in evs) for evs in by_incident(events).values())


def integrity(events: list[Event]) -> dict[str, int]:
    """Counts of what must never happen; all zero when the stream's history is sound."""
    seen: dict[tuple[str, int], Event] = {}
    differing = duplicates = 0
    for e in events:
        key = (e["incident"]["id"], e["seq"])
        if key in seen:
            duplicates += 1
            differing += seen[key] != e
        else:
            seen[key] = e
    grouped = by_incident(events)
    gaps = sum(
        1 for evs in grouped.values() if [e["seq"] for e in evs] != list(range(1, len(evs) + 1))
    )
    opened_twice = sum(
        1 for evs in grouped.values() if sum(e["type"] == "incident.opened" for e in evs) != 1
    )
    return {
        "same id+seq differing": differing,
        "seq gaps": gaps,
        "opened != 1": opened_twice,
        "redelivered": duplicates,
    }


def db_events(url: str) -> list[Event]:
    """The history database's timeline, as the event records it was written from."""
    engine = open_store(url)
    try:
        with Session(engine) as session:
            return [
                {"schema": 1, "type": r.type, "seq": r.seq, "at": _at(r), "incident": r.snapshot}
                for r in session.exec(select(IncidentEvent)).all()
            ]
    finally:
        engine.dispose()


def _at(row: IncidentEvent) -> str:
    at = as_utc(row.at)
    assert at is not None
    return format_time(int(at.timestamp() * 1000))
