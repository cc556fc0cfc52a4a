"""Recording `incident.events` into the history tables, and reading them back.

`record_event` is idempotent under redelivery: the stream is at-least-once (DESIGN §2), so the
same event, or an older one of the same incident, may arrive again after a newer one; it then
changes nothing. Callers own the transaction: `record_event` adds and flushes, the caller
commits (the sink commits once per batch, before committing its Kafka offsets).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, SQLModel, col, create_engine, select

from correlator.core.timefmt import TimeFormatError, parse_time
from correlator.errors import CorrelatorError
from correlator.store.models import Incident, IncidentEvent

log = logging.getLogger("correlator.store")

DEFAULT_URL: Final = "sqlite:///correlator.db"
DB_ENV: Final = "CORRELATOR_DB"
"""The environment variable naming the history database (a SQLAlchemy URL)."""

StatusFilter = Literal["open", "resolved", "merged"]
_STATUSES = ("open", "resolved", "merged")
_SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")


class StoreError(CorrelatorError):
    """The history database cannot be opened or used."""


class InvalidEventError(StoreError):
    """A record that is not an `incident.events` value (DESIGN §6)."""


def default_url() -> str:
    """`CORRELATOR_DB`, else a SQLite file `correlator.db` in the working directory."""
    return os.environ.get(DB_ENV) or DEFAULT_URL


def normalise_url(url: str) -> str:
    """Plain `postgresql://` / `postgres://` URLs use psycopg 3 (the driver we ship with)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def display_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def open_store(url: str | None = None, *, create: bool = True) -> Engine:
    """An engine on the history database at `url` (default: `default_url()`), tables created.

    With `create=False` a SQLite file must already exist (read-only commands should not leave
    empty databases behind). Every failure is a one-line `StoreError`.
    """
    url = normalise_url(url or default_url())
    shown = display_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {shown!r}") from None
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not create and not path.exists():
            raise StoreError(f"{shown}: no such database file (the worker's sink creates it)")
        if create and not path.parent.exists():
            raise StoreError(f"{shown}: directory {path.parent} does not exist")
    try:
        if is_sqlite:
            engine = create_engine(url, connect_args={"timeout": 30})
            sa_event.listen(engine, "connect", _sqlite_pragmas)
        else:
            # A server that does not answer should fail in seconds, not hang a command.
            args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
            engine = create_engine(url, pool_pre_ping=True, connect_args=args)
        if create:
            _create_tables(engine)
            upgrade_schema(engine, shown)
        else:  # read-only callers: check, never create
            missing = set(SQLModel.metadata.tables) - set(sa_inspect(engine).get_table_names())
            if missing:
                raise StoreError(
                    f"{shown}: not a correlator history database (no table "
                    f"{sorted(missing)[0]!r}; the worker's sink creates them)"
                )
            upgrade_schema(engine, shown, check_only=True)
    except ModuleNotFoundError as exc:
        raise StoreError(f"{shown}: the database driver is not installed ({exc.name})") from None
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"cannot open database {shown}: {_first_line(exc)}") from None
    return engine


ADDED_COLUMNS = {
    "incident": {"planned": "BOOLEAN NOT NULL DEFAULT FALSE"},
}
"""Columns added since the first release: a database made before gets them in place (the
rows of incidents recorded before planned work existed are unplanned)."""


def upgrade_schema(engine: Engine, shown: str, *, check_only: bool = False) -> None:
    """Add the columns a database made by an older correlator lacks (`check_only`: a read-only
    caller, which never changes the database, gets a one-line error instead)."""
    inspector = sa_inspect(engine)
    for table, columns in ADDED_COLUMNS.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        missing = {name: ddl for name, ddl in columns.items() if name not in have}
        if not missing:
            continue
        if check_only:
            raise StoreError(
                f"{shown}: made by an older correlator (no column {table}.{min(missing)}); "
                "start the worker with --db once to upgrade it"
            )
        with engine.begin() as conn:
            for name, ddl in missing.items():
                conn.execute(sql_text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))


CREATE_ATTEMPTS = 8


def _create_tables(engine: Engine) -> None:
    """Create missing tables. Several workers starting at once race to create them: one that
    finds a table (or index) created meanwhile tries again, skipping what exists now, until
    every one is there. (Checking once was not enough: the other process may still be between
    its first table and its last.)"""
    for attempt in range(CREATE_ATTEMPTS):
        try:
            SQLModel.metadata.create_all(engine)
            return
        except SQLAlchemyError:
            if attempt == CREATE_ATTEMPTS - 1:
                tables = set(sa_inspect(engine).get_table_names())
                if set(SQLModel.metadata.tables) - tables:
                    raise
                return
            log.debug("history tables being created by another process; trying again")
            time.sleep(0.05 * (attempt + 1))


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets `correlator incidents` read while the sink writes; foreign keys are off by
    # default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _time(value: object, what: str, *, optional: bool = False) -> datetime | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidEventError(f"{what} must be an RFC 3339 string, got {type(value).__name__}")
    try:
        ms = parse_time(value)
    except TimeFormatError as exc:
        raise InvalidEventError(f"{what}: {exc}") from None
    return datetime.fromtimestamp(ms / 1000, UTC)


def _required_time(value: object, what: str) -> datetime:
    result = _time(value, what)
    assert result is not None
    return result


def _text(data: Mapping[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidEventError(f"incident.{key} must be a string, got {type(value).__name__}")
    return value


def _int(data: Mapping[str, Any], key: str, what: str) -> int:
    value = data.get(key)
    if type(value) is not int:
        raise InvalidEventError(f"{what} must be an integer, got {type(value).__name__}")
    return value


def _parse(event: Mapping[str, Any]) -> tuple[int, str, datetime, dict[str, Any]]:
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"an event must be a JSON object, got {type(event).__name__}")
    if event.get("schema", 1) != 1:
        raise InvalidEventError(f"unsupported record schema {event.get('schema')!r}"[:120])
    kind = event.get("type")
    if not isinstance(kind, str) or not kind.startswith("incident."):
        raise InvalidEventError(f"not an incident event type: {kind!r}"[:120])
    seq = _int(event, "seq", "seq")
    at = _required_time(event.get("at"), "at")
    snapshot = event.get("incident")
    if not isinstance(snapshot, dict):
        raise InvalidEventError("incident must be a JSON object")
    if not isinstance(snapshot.get("id"), str) or not snapshot["id"]:
        raise InvalidEventError("incident.id must be a non-empty string")
    if snapshot.get("status") not in _STATUSES:
        raise InvalidEventError(f"incident.status must be one of {', '.join(_STATUSES)}")
    return seq, kind, at, snapshot


def _fields(seq: int, snapshot: dict[str, Any]) -> dict[str, Any]:
    """The incident row's columns from a snapshot, all checked before anything is changed."""
    severity = _text(snapshot, "severity")
    peak = _text(snapshot, "peak_severity")
    if severity not in _SEVERITIES or peak not in _SEVERITIES:
        raise InvalidEventError(f"incident severities must be one of {', '.join(_SEVERITIES)}")
    return {
        "status": str(snapshot["status"]),
        "severity": severity,
        "title": _text(snapshot, "title"),
        "opened_at": _required_time(snapshot.get("opened_at"), "incident.opened_at"),
        "updated_at": _required_time(snapshot.get("updated_at"), "incident.updated_at"),
        "resolved_at": _time(snapshot.get("resolved_at"), "incident.resolved_at", optional=True),
        "customers_affected": _int(snapshot, "customers_affected", "incident.customers_affected"),
        "peak_customers_affected": _int(
            snapshot, "peak_customers_affected", "incident.peak_customers_affected"
        ),
        "peak_severity": peak,
        "acknowledged_by": _text(snapshot, "acknowledged_by", optional=True),
        "acknowledged_at": _time(
            snapshot.get("acknowledged_at"), "incident.acknowledged_at", optional=True
        ),
        "merged_into": _text(snapshot, "merged_into", optional=True),
        "planned": snapshot.get("planned") is True,  # a snapshot without the field: unplanned
        "last_seq": seq,
        "snapshot": snapshot,
    }


def record_event(session: Session, event: Mapping[str, Any]) -> bool:
    """Record one `incident.events` value; False (and nothing changed) for a duplicate or an
    event older than the newest one recorded for its incident.

    Raises `InvalidEventError` for a value that is not an incident event. Adds and flushes;
    the caller commits.
    """
    seq, kind, at, snapshot = _parse(event)
    incident_id = snapshot["id"]
    row = session.get(Incident, incident_id, with_for_update=True)
    if row is not None and seq <= row.last_seq:
        return False
    fields = _fields(seq, snapshot)
    if row is None:
        session.add(Incident(id=incident_id, **fields))
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    session.add(
        IncidentEvent(incident_id=incident_id, seq=seq, type=kind, at=at, snapshot=snapshot)
    )
    session.flush()
    return True


def list_incidents(
    session: Session, status: StatusFilter | None = None, limit: int = 50
) -> list[Incident]:
    """Incidents, most recently opened first; `status` None means all of them."""
    query = select(Incident)
    if status is not None:
        query = query.where(Incident.status == status)
    query = query.order_by(col(Incident.opened_at).desc(), col(Incident.id)).limit(limit)
    return list(session.exec(query))


def get_incident(session: Session, incident_id: str) -> tuple[Incident, list[IncidentEvent]] | None:
    """An incident and its timeline in `seq` order, or None when it is unknown."""
    row = session.get(Incident, incident_id)
    if row is None:
        return None
    events = session.exec(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(col(IncidentEvent.seq))
    )
    return row, list(events)


def find_incident_ids(session: Session, prefix: str, limit: int = 10) -> list[str]:
    """Ids starting with `prefix` (so `show` accepts an unambiguous abbreviation)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (
        select(Incident.id)
        .where(col(Incident.id).like(escaped + "%", escape="\\"))
        .order_by(col(Incident.id))
        .limit(limit)
    )
    return list(session.exec(query))
