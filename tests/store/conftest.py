"""The history database for the store tests: a SQLite file, and PostgreSQL when configured.

PostgreSQL comes from `CORRELATOR_TEST_POSTGRES_URL` (`.ci/run` sets it). Without it the
PostgreSQL variants skip locally and fail when `CORRELATOR_CI` is set. Each test gets its own
PostgreSQL schema (through the URL's `search_path`), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

POSTGRES_ENV = "CORRELATOR_TEST_POSTGRES_URL"


def _postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CORRELATOR_CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set (CORRELATOR_CI is set: nothing skips)")
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty history database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    import psycopg

    base = _postgres_url()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
