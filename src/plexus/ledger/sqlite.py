"""The embedded usage store: SQLite (stdlib, WAL) in a file; several workers may share it."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from msgspec.structs import astuple

from plexus.ledger.migrate import VERSION_TABLE, pending, statements
from plexus.ledger.record import UsageRecord, encode_trail
from plexus.ledger.rollup import ROLLUP_COLUMNS, SUMMED, rollup
from plexus.ledger.store import Refused

COLUMNS = tuple(UsageRecord.__struct_fields__)
_TRAIL = COLUMNS.index("trail")
_UPSERT = (
    f"INSERT INTO usage_hourly ({', '.join(ROLLUP_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(ROLLUP_COLUMNS))}) "
    "ON CONFLICT (hour, key, alias, provider, upstream_model, client_api) DO UPDATE SET "
    + ", ".join(f"{name} = {name} + excluded.{name}" for name in SUMMED)
)
PRUNE_SLICE = 5000  # rows deleted per statement, so a prune never holds the lock for long
_MAX_VALUES = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999  # per statement


class BatchInsert:
    """Inserts many rows as a few multi-row INSERTs of fixed sizes, largest first (249 rows:
    3×64, 3×16, 2×4, 1). executemany steps once per row, and each step gives the GIL back and
    waits for it again: behind a busy event loop the writer starved (it kept up with a
    seventh of 3k rows/s). Few sizes, so the statement cache holds a few statements."""

    def __init__(self, head: str, width: int) -> None:
        one = f"({', '.join('?' * width)})"
        self._width = width
        self._sizes = [size for size in (256, 64, 16, 4, 1) if size * width <= _MAX_VALUES]
        self._sql = {rows: f"{head} VALUES {', '.join([one] * rows)}" for rows in self._sizes}

    def run(self, db: sqlite3.Connection, rows: Sequence[Sequence[object]]) -> None:
        """Insert `rows` (each of `width` values) in the open transaction."""
        values = list(itertools.chain.from_iterable(rows))
        width, start = self._width, 0
        for size in self._sizes:
            while len(rows) - start >= size:
                db.execute(self._sql[size], values[start * width : (start + size) * width])
                start += size


_INSERT = BatchInsert(f"INSERT INTO requests ({', '.join(COLUMNS)})", len(COLUMNS))


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
        rows = [_row(record) for record in records]
        db.execute("BEGIN IMMEDIATE")
        try:
            _INSERT.run(db, rows)
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


def _row(record: UsageRecord) -> tuple[object, ...]:
    """The record in COLUMNS order (sqlite3 binds bools); the trail as its JSON text."""
    values = astuple(record)
    return (*values[:_TRAIL], encode_trail(record.trail), *values[_TRAIL + 1 :])
