"""Where kept responses live: the `responses` table (migration 0002) of the usage database,
through the usage backends' own connection setup and migrations."""

from __future__ import annotations

from plexus.config import Config
from plexus.ledger import store_backend
from plexus.ledger.postgres import PostgresBackend
from plexus.ledger.responses import ResponseRows, ResponseStore, StoredResponse
from plexus.ledger.sqlite import BatchInsert, SQLiteBackend

COLUMNS = tuple(StoredResponse.__struct_fields__)
# Newest first: the response asked for, then each one it continued, for the same key only.
_CHAIN = """
WITH RECURSIVE chain (depth, {columns}) AS (
    SELECT 0, {columns} FROM responses WHERE id = {p1} AND key = {p2}
    UNION ALL
    SELECT chain.depth + 1, {qualified} FROM responses r JOIN chain ON r.id = chain.previous_id
    WHERE r.key = {p2} AND chain.depth + 1 < {p3}
)
SELECT {columns} FROM chain ORDER BY depth
"""


def _chain_sql(p1: str, p2: str, p3: str) -> str:
    columns = ", ".join(COLUMNS)
    qualified = ", ".join(f"r.{name}" for name in COLUMNS)
    return _CHAIN.format(columns=columns, qualified=qualified, p1=p1, p2=p2, p3=p3)


class SQLiteResponses(SQLiteBackend):
    """Kept responses in the SQLite file of the usage store."""

    _insert = BatchInsert(f"INSERT OR REPLACE INTO responses ({', '.join(COLUMNS)})", len(COLUMNS))
    _chain_sql = _chain_sql("?1", "?2", "?3")

    def save(self, rows: list[StoredResponse]) -> None:
        """Write `rows` in one transaction (a response kept twice keeps the last copy)."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            self._insert.run(db, [_values(row) for row in rows])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def chain(self, response_id: str, key: str, limit: int) -> list[StoredResponse]:
        """`response_id` and the responses it continued, newest first."""
        found = self._connection().execute(self._chain_sql, (response_id, key, limit))
        return [StoredResponse(*row) for row in found.fetchall()]

    def delete(self, response_id: str, key: str) -> bool:
        """Delete one response; False when `key` kept none under that id."""
        cursor = self._connection().execute(
            "DELETE FROM responses WHERE id = ? AND key = ?", (response_id, key)
        )
        return cursor.rowcount > 0

    def expire(self, before: float) -> int:
        """Delete the responses created before `before`."""
        cursor = self._connection().execute("DELETE FROM responses WHERE created_at < ?", (before,))
        return cursor.rowcount


class PostgresResponses(PostgresBackend):
    """Kept responses in the Postgres database of the usage store."""

    _save_sql = (
        f"INSERT INTO responses ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))}) "
        "ON CONFLICT (id) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in COLUMNS[1:])
    )
    _chain_sql = _chain_sql("$1", "$2", "$3")

    def save(self, rows: list[StoredResponse]) -> None:
        """Write `rows` in one transaction (a response kept twice keeps the last copy)."""
        self._ready()
        self._run(self._save(rows))

    async def _save(self, rows: list[StoredResponse]) -> None:
        async with self._db.transaction():
            await self._db.executemany(self._save_sql, [_values(row) for row in rows])

    def chain(self, response_id: str, key: str, limit: int) -> list[StoredResponse]:
        """`response_id` and the responses it continued, newest first."""
        self._ready()
        records = self._run(self._db.fetch(self._chain_sql, response_id, key, limit))
        return [StoredResponse(*tuple(record)) for record in records]

    def delete(self, response_id: str, key: str) -> bool:
        """Delete one response; False when `key` kept none under that id."""
        self._ready()
        sql = "DELETE FROM responses WHERE id = $1 AND key = $2"
        status: str = self._run(self._db.execute(sql, response_id, key))
        return not status.endswith(" 0")

    def expire(self, before: float) -> int:
        """Delete the responses created before `before`."""
        self._ready()
        sql = "DELETE FROM responses WHERE created_at < $1"
        status: str = self._run(self._db.execute(sql, before))
        return int(status.rsplit(" ", 1)[-1])

    def _ready(self) -> None:
        if self._db is None:
            self.open()


def _values(row: StoredResponse) -> tuple[object, ...]:
    return tuple(getattr(row, name) for name in COLUMNS)


def open_response_store(config: Config) -> ResponseStore | None:
    """The Responses store of a config, not started, or None when `responses.store` is off."""
    settings = config.responses
    if not settings.store:
        return None
    backend = store_backend(config.usage, config.server.data_dir)
    rows: ResponseRows
    if isinstance(backend, PostgresBackend):
        rows = PostgresResponses(backend.url)
    elif isinstance(backend, SQLiteBackend):
        rows = SQLiteResponses(backend.path)
    else:  # the config check refuses `store` without a database
        return None
    return ResponseStore(
        rows,
        retention_days=settings.retention_days,
        buffer_bytes=settings.buffer_bytes,
        timeout=settings.timeout,
        settle_seconds=settings.settle_seconds,
    )
