"""Read-only opening (the CLI's list/show, the war room's --db) never creates anything."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from correlator.store import StoreError, open_store


def test_an_empty_database_is_reported_not_initialised(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # exists, but holds no tables
    with pytest.raises(StoreError, match="not a correlator history database"):
        open_store(f"sqlite:///{path}", create=False)
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == []
