"""Read access to the usage store for the admin API and `plexus usage`: SQLite in a worker
thread (a connection per call: the writer thread owns its own), Postgres through a small asyncpg
pool. Neither blocks the event loop. SQL is written once with `?` placeholders."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any, Protocol

from plexus.config import UsageConfig

Row = tuple[Any, ...]


class StoreUnavailable(Exception):
    """The usage store cannot be read (missing, not migrated yet, down)."""


class Reader(Protocol):
    """Runs one statement against the usage store."""

    dialect: str

    async def fetch(self, sql: str, params: tuple[Any, ...]) -> list[Row]: ...

    async def execute(self, sql: str, params: tuple[Any, ...]) -> list[Row]: ...

    async def close(self) -> None: ...


class SQLiteReader:
    """Statements on the SQLite file, each in a worker thread with a connection of its own."""

    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    async def fetch(self, sql: str, params: tuple[Any, ...]) -> list[Row]:
        """The rows of a query."""
        return await asyncio.to_thread(self._run, sql, params, False)

    async def execute(self, sql: str, params: tuple[Any, ...]) -> list[Row]:
        """Run a statement that writes; the rows it returns (`RETURNING`)."""
        return await asyncio.to_thread(self._run, sql, params, True)

    async def close(self) -> None:
        """Nothing is held between calls."""

    def _run(self, sql: str, params: tuple[Any, ...], write: bool) -> list[Row]:
        if not self.path.exists():
            raise StoreUnavailable(f"no usage store at {self.path} (no request recorded yet)")
        try:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreUnavailable(f"cannot open {self.path}: {error}") from error
        try:
            if not write:
                db.execute("PRAGMA query_only=ON")
            return db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as error:
            raise StoreUnavailable(f"cannot read {self.path}: {error}") from error
        finally:
            db.close()


_PLACEHOLDER = re.compile(r"\?")
CLOSE_SECONDS = 0.5  # a hung server never holds a shutdown longer (the reads are done)


class PostgresReader:
    """Statements on Postgres through a pool of at most two connections, opened when needed."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: Any = None
        self._opening = asyncio.Lock()
        self._errors: tuple[type[BaseException], ...] = (OSError, TimeoutError)

    async def fetch(self, sql: str, params: tuple[Any, ...]) -> list[Row]:
        """The rows of a query."""
        pool = await self._connected()
        try:
            return [tuple(row) for row in await pool.fetch(_numbered(sql), *params)]
        except self._errors as error:
            raise StoreUnavailable(f"cannot reach the usage database: {error}") from error

    async def execute(self, sql: str, params: tuple[Any, ...]) -> list[Row]:
        """Run a statement that writes; the rows it returns (`RETURNING`)."""
        pool = await self._connected()
        try:
            return [tuple(row) for row in await pool.fetch(_numbered(sql), *params)]
        except self._errors as error:
            raise StoreUnavailable(f"cannot reach the usage database: {error}") from error

    async def close(self) -> None:
        """Close the pool; a server that does not answer has its connections dropped."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), CLOSE_SECONDS)
            except TimeoutError:
                pool.terminate()

    async def _connected(self) -> Any:
        async with self._opening:
            if self._pool is None:
                import asyncpg  # imported here: embedded (SQLite) installs never load it

                self._errors = (OSError, TimeoutError, asyncpg.PostgresError)
                try:
                    self._pool = await asyncpg.create_pool(
                        self.url, min_size=0, max_size=2, timeout=10
                    )
                except (OSError, TimeoutError, asyncpg.PostgresError) as error:
                    raise StoreUnavailable(f"cannot reach the usage database: {error}") from error
            return self._pool


def _numbered(sql: str) -> str:
    """`?` placeholders as Postgres's `$1, $2, ...` (no `?` appears in our SQL otherwise)."""
    counter = iter(range(1, 1000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


def open_reader(config: UsageConfig, data_dir: str | Path) -> Reader | None:
    """The reader of the store `usage.database` names (as `ledger.store_backend`), or None."""
    database = config.database
    if database == "none":
        return None
    if database.startswith(("postgres://", "postgresql://")):
        return PostgresReader(database)
    if database.startswith("sqlite:///"):
        return SQLiteReader(database.removeprefix("sqlite:///"))
    return SQLiteReader(Path(data_dir) / "usage.db")
