"""The history tables: one row per incident (its latest snapshot) and one per event (timeline).

Timestamps are stored as timezone-aware UTC datetimes (SQLite keeps them naive; `as_utc` puts
the zone back), snapshots as JSON (JSONB on PostgreSQL) exactly as they were on the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

_JSON = JSON().with_variant(JSONB(), "postgresql")


def _time_column(*, nullable: bool, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time with its UTC zone (SQLite returns naive datetimes)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Incident(SQLModel, table=True):
    """An incident as of the newest event recorded for it."""

    __tablename__ = "incident"

    id: str = Field(primary_key=True, max_length=200)
    status: str = Field(index=True, max_length=16)
    severity: str = Field(max_length=8)
    title: str
    opened_at: datetime = _time_column(nullable=False, index=True)
    updated_at: datetime = _time_column(nullable=False)
    resolved_at: datetime | None = _time_column(nullable=True)
    customers_affected: int = 0
    peak_customers_affected: int = 0
    peak_severity: str = Field(max_length=8)
    acknowledged_by: str | None = Field(default=None, max_length=200)
    acknowledged_at: datetime | None = _time_column(nullable=True)
    merged_into: str | None = Field(default=None, max_length=200)
    planned: bool = Field(default=False, index=True)
    """Its latest snapshot was planned work (every root cause under a maintenance window)."""
    last_seq: int
    snapshot: dict[str, Any] = Field(sa_column=Column(_JSON, nullable=False))


class IncidentEvent(SQLModel, table=True):
    """One event of an incident's timeline, with the snapshot it carried."""

    __tablename__ = "incident_event"
    __table_args__ = (UniqueConstraint("incident_id", "seq", name="uq_incident_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=200)
    seq: int
    type: str = Field(max_length=32)
    at: datetime = _time_column(nullable=False)
    snapshot: dict[str, Any] = Field(sa_column=Column(_JSON, nullable=False))
