"""Migrations: each number a database lacks is applied, gaps and late lower numbers included."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from plexus.ledger.migrate import SchemaTooNew, migrations, pending
from plexus.ledger.record import Attempt, UsageRecord
from plexus.ledger.sqlite import SQLiteBackend


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_both_dialects_have_the_same_numbers(dialect: str) -> None:
    assert [v for v, _ in migrations(dialect)] == [v for v, _ in migrations("sqlite")]


def test_a_lower_number_merged_after_a_higher_one_is_still_applied() -> None:
    numbers = [version for version, _ in migrations("sqlite")]
    latest = numbers[-1]
    # A database that has only the latest lacks every other one, whatever the gaps.
    assert [v for v, _ in pending("sqlite", {latest})] == numbers[:-1]
    assert pending("sqlite", set(numbers)) == []
    with pytest.raises(SchemaTooNew):
        pending("sqlite", {latest + 1})


def test_the_trail_is_stored_as_json(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "usage.db")
    trail = [Attempt("a", "m1", "boom", 503, 12.5), Attempt("b", "m2", None, 200, 30.0)]
    record = UsageRecord(request_id="r1", time=1.0, client_api="chat", trail=trail)
    backend.write([record])
    backend.close()
    with sqlite3.connect(tmp_path / "usage.db") as db:
        (text,) = db.execute("SELECT trail FROM requests").fetchone()
        applied = {row[0] for row in db.execute("SELECT version FROM schema_version")}
    assert msgspec.json.decode(text, type=list[Attempt]) == trail
    assert applied == {version for version, _ in migrations("sqlite")}
