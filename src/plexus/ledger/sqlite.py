"""The embedded usage store: SQLite (stdlib, WAL) in a file; several workers may share it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from msgspec.structs import astuple

from plexus.ledger.migrate import VERSION_TABLE, pending, statements
from plexus.ledger.record import UsageRecord, encode_trail
from plexus.ledger.rollup import ROLLUP_COLUMNS, SUMMED, rollup
from plexus.ledger.store import Refused

COLUMNS = tuple(UsageRecord.__struct_fields__)
_TRAIL = COLUMNS.index("trail")
_WIDTH = len(COLUMNS)
_UPSERT = (
    f"INSERT INTO usage_hourly ({', '.join(ROLLUP_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(ROLLUP_COLUMNS))}) "
    "ON CONFLICT (hour, key, alias, provider, upstream_model, client_api) DO UPDATE SET "
    + ", ".join(f"{name} = {name} + excluded.{name}" for name in SUMMED)
)
# Rows go in as multi-row INSERTs of these sizes, largest first (249 rows: 3×64, 3×16, 2×4,
# 1): each statement is one step, where executemany's step per row gives the GIL back and waits
# for it again, starving the writer behind a busy event loop (at 3k rows/s it wrote a
# seventh of them). Few sizes, so the statement cache holds a few statements, not one per count.
CHUNK_ROWS = (256, 64, 16, 4, 1)  # 256 × 29 values, under SQLite's 32,766
PRUNE_SLICE = 5000  # rows deleted per statement, so a prune never holds the lock for long


class SQLiteBackend:
    """Writes batches to one SQLite file; used from one thread (the store's writer)."""

    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        """Connect, switch to WAL, and apply the migrations the file lacks."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened at start in a worker thread, then used by the writer thread alone.
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=10000")
        self._db = db
        db.execute("BEGIN IMMEDIATE")  # one worker migrates at a time
        try:
            db.execute(VERSION_TABLE)
            applied = {row[0] for row in db.execute("SELECT version FROM schema_version")}
            for version, sql in pending(self.dialect, applied):
                for statement in statements(sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def write(self, records: list[UsageRecord]) -> None:
        """Insert the rows and add them to the hourly roll-up, in one transaction; Refused
        when a value does not fit (an integer beyond 64 bits)."""
        db = self._connection()
        values = [value for record in records for value in _row(record)]
        db.execute("BEGIN IMMEDIATE")
        try:
            for rows, start in _chunks(len(records)):
                db.execute(_INSERTS[rows], values[start * _WIDTH : (start + rows) * _WIDTH])
            db.executemany(_UPSERT, rollup(records))
            db.execute("COMMIT")
        except BaseException as error:
            db.execute("ROLLBACK")
            if isinstance(error, (OverflowError, ValueError)):  # the data's fault, not the file's
                raise Refused(str(error)) from error
            raise

    def prune(self, before: float) -> int:
        """Delete one slice of the rows older than `before` (and, once no full slice is left,
        the roll-up's hours before it); return how many rows went."""
        db = self._connection()
        cursor = db.execute(
            "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE time < ? LIMIT ?)",
            (before, PRUNE_SLICE),
        )
        if cursor.rowcount < PRUNE_SLICE:
            db.execute("DELETE FROM usage_hourly WHERE hour < ?", (int(before),))
        return cursor.rowcount

    def close(self) -> None:
        """Close the file."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.open()
        assert self._db is not None
        return self._db


def _chunks(count: int) -> Iterator[tuple[int, int]]:
    """The statements for `count` rows: each one's size and first row."""
    start = 0
    for size in CHUNK_ROWS:
        while count - start >= size:
            yield size, start
            start += size


def _insert(rows: int) -> str:
    one = f"({', '.join('?' * _WIDTH)})"
    return f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES {', '.join([one] * rows)}"


_INSERTS = {rows: _insert(rows) for rows in CHUNK_ROWS}


def _row(record: UsageRecord) -> tuple[object, ...]:
    """The record in COLUMNS order (sqlite3 binds bools); the trail as its JSON text."""
    values = astuple(record)
    return (*values[:_TRAIL], encode_trail(record.trail), *values[_TRAIL + 1 :])
