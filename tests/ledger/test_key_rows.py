"""The `gateway_keys` table: a database from before it (schema 0003) gains it, every policy
field survives a round trip, names are unique, a rotation keeps the old hash only with a grace,
and the poll marker moves with every change."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

from plexus.config import BudgetConfig, KeyConfig
from plexus.ledger.key_rows import KeyRow, KeyRows
from plexus.ledger.migrate import VERSION_TABLE, migrations, statements
from plexus.ledger.readers import SQLiteReader
from plexus.ledger.sqlite import SQLiteBackend
from plexus.limits.stored import hashed_keys

POLICY = KeyConfig(
    comment="ci",
    models=["chat-model", "oa/*"],
    rpm=10,
    tpm=1000,
    max_parallel=2,
    budget=BudgetConfig(usd=5.5, period="week", warn_at=0.5),
    expires=datetime.datetime(2099, 1, 1, tzinfo=datetime.UTC),
    disabled=True,
)


def migrate_to(path: Path, last: int) -> None:
    """A database as a Plexus whose newest migration was `last` left it."""
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute(VERSION_TABLE)
        for version, sql in migrations("sqlite"):
            if version <= last:
                for statement in statements(sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_version VALUES (?)", (version,))


def test_a_database_at_0003_gains_the_keys_table(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    migrate_to(path, 3)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO audit VALUES (1, 1.0, 'admin', 'a', 't', '{}')")
        found = db.execute("SELECT name FROM sqlite_master WHERE name = 'gateway_keys'")
        assert found.fetchall() == []
    backend = SQLiteBackend(path)
    backend.open()
    backend.close()
    with sqlite3.connect(path) as db:
        versions = [row[0] for row in db.execute("SELECT version FROM schema_version")]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        kept = db.execute("SELECT count(*) FROM audit").fetchone()[0]
    assert versions == [1, 2, 3, 4] and "gateway_keys" in tables and kept == 1


async def test_rows_round_trip_and_the_marker_moves(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "usage.db")
    backend.open()
    backend.close()
    rows = KeyRows(SQLiteReader(tmp_path / "usage.db"))
    empty = await rows.marker()
    row = KeyRow(name="k", secret_hash="h1", prefix="sk-plx-abcde", policy=POLICY,
                 created=1.0, updated=1.0)  # fmt: skip
    assert await rows.create(row)
    assert not await rows.create(row)  # the name is taken
    assert await rows.all() == [row]
    created = await rows.marker()
    assert created != empty
    assert await rows.update("k", KeyConfig(rpm=3), 1.0)  # the same time: the revision moves
    updated = await rows.marker()
    assert updated != created
    changed = await rows.one("k")
    assert changed is not None and changed.policy == KeyConfig(rpm=3)
    assert await rows.rotate("k", "h2", "sk-plx-fghij", 2.0, None)
    rotated = await rows.one("k")
    assert rotated is not None and (rotated.secret_hash, rotated.previous_hash) == ("h2", None)
    assert await rows.rotate("k", "h3", "sk-plx-klmno", 3.0, 50.0)
    graced = await rows.one("k")
    assert graced is not None and (graced.previous_hash, graced.previous_until) == ("h2", 50.0)
    assert [k.digest for k in hashed_keys([graced], now=49.0)] == ["h3", "h2"]
    assert [k.digest for k in hashed_keys([graced], now=50.0)] == ["h3"]
    assert await rows.delete("k")
    assert not await rows.delete("k")
    assert await rows.marker() != updated and await rows.all() == []
