"""`correlator incidents list|show`: the incident history the store sink recorded."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from correlator.commands.options import positive_int
from correlator.store.history import (
    DB_ENV,
    StoreError,
    default_url,
    display_url,
    find_incident_ids,
    get_incident,
    list_incidents,
    open_store,
)
from correlator.store.models import Incident, IncidentEvent, as_utc


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("incidents", help="list and show recorded incident history")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    db_help = f"database URL (default: ${DB_ENV}, else sqlite:///correlator.db)"
    listing = actions.add_parser("list", help="incidents, most recently opened first")
    listing.add_argument("--db", metavar="URL", help=db_help)
    listing.add_argument(
        "--status",
        choices=("open", "resolved", "merged", "all"),
        default="all",
        help="only incidents with this status (default: all)",
    )
    listing.add_argument(
        "--limit", type=positive_int, default=50, metavar="N", help="at most N rows (default 50)"
    )
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", help="one incident: its latest snapshot and timeline")
    show.add_argument("id", metavar="ID", help="incident id (or an unambiguous prefix)")
    show.add_argument("--db", metavar="URL", help=db_help)
    show.set_defaults(func=_show)


def _when(value: datetime | None) -> str:
    utc = as_utc(value)
    return "-" if utc is None else utc.strftime("%Y-%m-%d %H:%M:%SZ")


def table(rows: Sequence[Sequence[str]], right: Iterable[int] = (), width: int = 0) -> str:
    """Columns padded to their widest cell; the last column is cut to fit `width` (if > 0)."""
    aligned = set(right)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in aligned else cell.ljust(widths[i])
            for i, cell in enumerate(row[:-1])
        ]
        line = "  ".join([*cells, row[-1]])
        if width and len(line) > width:
            line = line[: max(width - 1, len(line) - len(row[-1]) + 20)] + "…"
        lines.append(line.rstrip())
    return "\n".join(lines)


def _list(args: argparse.Namespace) -> int:
    url = args.db or default_url()
    engine = open_store(url, create=False)
    try:
        with Session(engine) as session:
            status = None if args.status == "all" else args.status
            incidents = list_incidents(session, status, args.limit)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read {display_url(url)}: {_first_line(exc)}") from None
    finally:
        engine.dispose()
    if not incidents:
        which = "" if args.status == "all" else f"{args.status} "
        print(f"no {which}incidents in {display_url(url)}")
        return 0
    rows = [["ID", "SEV", "STATUS", "CUSTOMERS", "PEAK", "OPENED", "TITLE"]]
    rows.extend(
        [
            i.id,
            i.severity,
            f"{i.status} planned" if i.planned else i.status,
            f"{i.customers_affected:,}",
            f"{i.peak_customers_affected:,}",
            _when(i.opened_at),
            i.title,
        ]
        for i in incidents
    )
    print(table(rows, right=(3, 4), width=shutil.get_terminal_size((120, 24)).columns))
    return 0


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _show(args: argparse.Namespace) -> int:
    url = args.db or default_url()
    engine = open_store(url, create=False)
    try:
        with Session(engine) as session:
            found = get_incident(session, args.id)
            if found is None:
                matches = find_incident_ids(session, args.id)
                if len(matches) == 1:
                    found = get_incident(session, matches[0])
                elif matches:
                    raise StoreError(f"{args.id!r} is ambiguous: {', '.join(matches)}")
            if found is None:
                raise StoreError(f"no incident {args.id!r} in {display_url(url)}")
            incident, events = found
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read {display_url(url)}: {_first_line(exc)}") from None
    finally:
        engine.dispose()
    print(describe(incident, events))
    return 0


def describe(incident: Incident, events: Sequence[IncidentEvent]) -> str:
    """The text `incidents show` prints: the latest snapshot's summary, then the timeline."""
    snap: dict[str, Any] = incident.snapshot
    lines = [
        f"{incident.id}  {incident.severity}  {incident.status}"
        + (f" into {incident.merged_into}" if incident.merged_into else ""),
        f"  {incident.title}",
        f"  opened {_when(incident.opened_at)}   updated {_when(incident.updated_at)}"
        f"   resolved {_when(incident.resolved_at)}",
        f"  customers affected {incident.customers_affected:,}"
        f" (degraded {int(snap.get('customers_degraded') or 0):,});"
        f" peak {incident.peak_customers_affected:,}, peak severity {incident.peak_severity}",
    ]
    if incident.acknowledged_by:
        lines.append(
            f"  acknowledged by {incident.acknowledged_by} at {_when(incident.acknowledged_at)}"
        )
    roots = snap.get("root_causes") or []
    lines.append(f"  root causes: {', '.join(map(str, roots)) or '-'}")
    services = snap.get("business_services") or []
    if services:
        lines.append("business services:")
        rows = [
            [
                f"  {s.get('id')}",
                f"tier {s.get('tier')}",
                str(s.get("state")),
                f"impact {float(s.get('impact') or 0):.2f}",
                str(s.get("owner") or ""),
            ]
            for s in services
        ]
        lines.append(table(rows, right=(3,)))
    segments = snap.get("segments") or []
    if segments:
        lines.append("segments:")
        rows = [
            [
                f"  {s.get('id')}",
                f"{int(s.get('affected') or 0):,}",
                f"of {int(s.get('customers') or 0):,} affected",
                f"{int(s.get('degraded') or 0):,} degraded",
            ]
            for s in segments
        ]
        lines.append(table(rows, right=(1,)))
    components = snap.get("components") or []
    if components:
        lines.append("components:")
        rows = [
            [
                f"  {c.get('id')}",
                str(c.get("kind") or ""),
                str(c.get("state")),
                "root cause" if c.get("root_cause") else "symptom",
                f"{int(c.get('alert_count') or 0)} alerts",
                str(c.get("owner") or ""),
            ]
            for c in components
        ]
        lines.append(table(rows, right=(4,)))
    lines.append(f"timeline ({len(events)} events):")
    rows = []
    for e in events:
        s = e.snapshot
        rows.append(
            [
                f"  {e.seq}",
                _when(e.at),
                e.type,
                str(s.get("severity")),
                f"{int(s.get('customers_affected') or 0):,} customers",
                ", ".join(map(str, s.get("root_causes") or [])),
            ]
        )
    if rows:
        lines.append(table(rows, right=(0, 4)))
    return "\n".join(lines)
