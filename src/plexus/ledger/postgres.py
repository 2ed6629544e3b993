"""The usage store at scale: Postgres, shared by every replica; rows go in with COPY and the
roll-up with one upsert per batch; migrations run under an advisory lock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from msgspec.structs import astuple

from plexus.ledger.migrate import VERSION_TABLE, pending, statements
from plexus.ledger.record import UsageRecord, encode_trail
from plexus.ledger.rollup import ROLLUP_COLUMNS, SUMMED, rollup
from plexus.ledger.store import Refused

COLUMNS = tuple(UsageRecord.__struct_fields__)
Row = tuple[object, ...]
_TRAIL = COLUMNS.index("trail")
_UPSERT = (
    f"INSERT INTO usage_hourly ({', '.join(ROLLUP_COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(ROLLUP_COLUMNS) + 1))}) "
    "ON CONFLICT (hour, key, alias, provider, upstream_model, client_api) DO UPDATE SET "
    + ", ".join(f"{name} = usage_hourly.{name} + excluded.{name}" for name in SUMMED)
)
_MIGRATION_LOCK = 0x706C6578  # "plex": one replica migrates while the others wait
_PRUNE = "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE time < $1 LIMIT $2)"
_PRUNE_HOURLY = "DELETE FROM usage_hourly WHERE hour < $1"
PRUNE_SLICE = 5000
TIMEOUT = 5.0  # seconds a call may take: a dead or hung server never holds the writer longer
MIGRATION_TIMEOUT = 600.0  # a migration may rewrite a big table; the other replicas wait


class PostgresBackend:
    """Writes batches to Postgres; runs its own event loop inside the store's writer thread.

    Every call is bounded by `timeout` (migrations by MIGRATION_TIMEOUT): a server that died
    or hangs costs the writer that long, never its thread. A call that fails drops the
    connection (unless the server answered it, and its data was at fault); the next one
    reconnects.
    """

    dialect = "postgres"

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._db: Any = None
        import asyncpg  # imported here: embedded (SQLite) installs never load it

        # Errors of the data, not the link (asyncpg encodes client-side: ValueError,
        # OverflowError, TypeError): the connection is kept, the batch is refused.
        self._refusals = (asyncpg.DataError, ValueError, ArithmeticError, TypeError)
        # Errors the server answered with: its connection stays usable unless it closed.
        self._answered = (asyncpg.PostgresError, *self._refusals)

    def open(self) -> None:
        """Connect and apply the migrations the database lacks."""
        self._connection()

    def _connection(self) -> Any:
        if self._db is None:
            import asyncpg

            self._db = self._run(asyncpg.connect(self.url, timeout=self.timeout))
            try:
                self._run(self._migrate(), MIGRATION_TIMEOUT)
            except BaseException:
                self._drop()  # a connection that is not migrated is never used
                raise
        return self._db

    async def _migrate(self) -> None:
        db = self._db
        async with db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await db.execute(VERSION_TABLE)
            applied = {row[0] for row in await db.fetch("SELECT version FROM schema_version")}
            for version, sql in pending(self.dialect, applied):
                for statement in statements(sql):
                    await db.execute(statement)
                await db.execute("INSERT INTO schema_version VALUES ($1)", version)

    def write(self, records: list[UsageRecord]) -> None:
        """COPY the rows in and add them to the roll-up, in one transaction; Refused when
        Postgres will not take their data."""
        refusals = self._refusals
        rows = [_row(record) for record in records]
        # Every writer upserts the roll-up rows in the same order, so two replicas adding to
        # the same rows wait for each other instead of deadlocking.
        hourly = sorted(rollup(records))
        db = self._connection()
        try:
            self._run(self._write(db, rows, hourly))
        except refusals as error:
            # Postgres's text holds no NUL, which a client may put in a model name: replaced.
            clean, clean_hourly = _without_nul(rows), _without_nul(hourly)
            if clean == rows:
                raise Refused(str(error)) from error
            try:
                self._run(self._write(self._connection(), clean, clean_hourly))
            except refusals as again:
                raise Refused(str(again)) from again

    async def _write(self, db: Any, rows: list[Row], hourly: list[Row]) -> None:
        async with db.transaction():
            await db.copy_records_to_table("requests", records=rows, columns=COLUMNS)
            await db.executemany(_UPSERT, hourly)

    def prune(self, before: float) -> int:
        """Delete one slice of the rows older than `before` (and, once no full slice is left,
        the roll-up's hours before it); return how many rows went."""
        status = self._run(self._connection().execute(_PRUNE, before, PRUNE_SLICE))
        count = int(status.rsplit(" ", 1)[-1])
        if count < PRUNE_SLICE:
            self._run(self._connection().execute(_PRUNE_HOURLY, int(before)))
        return count

    def close(self) -> None:
        """Close the connection (dropped if the server does not answer) and the loop."""
        if self._db is not None:
            # No answer: _run drops the connection, and nothing is lost.
            with contextlib.suppress(Exception):
                self._run(self._db.close())
            self._db = None
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def _run(self, work: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """Run `work` on this backend's loop, within the timeout."""
        timeout = timeout or self.timeout
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        loop = self._loop
        task = loop.create_task(work)
        # Not wait_for: a cancelled asyncpg query sends a cancel request and rolls back, which
        # on a hung server waits forever. Dropping the connection first ends every wait.
        loop.run_until_complete(asyncio.wait([task], timeout=timeout))
        if not task.done():
            self._drop()
            task.cancel()
            loop.run_until_complete(asyncio.wait([task], timeout=timeout))
            raise TimeoutError(f"the usage database did not answer within {timeout:g} s")
        error = task.exception()
        if error is not None and not (isinstance(error, self._answered) and self._usable()):
            self._drop()
        return task.result()

    def _usable(self) -> bool:
        return self._db is not None and not self._db.is_closed()

    def _drop(self) -> None:
        """Abandon the connection without waiting for the server; the next call reconnects."""
        if self._db is not None:
            self._db.terminate()
            self._db = None


def _without_nul(rows: list[Row]) -> list[Row]:
    return [
        tuple(value.replace("\x00", "\ufffd") if isinstance(value, str) else value for value in row)
        for row in rows
    ]


def _row(record: UsageRecord) -> Row:
    """The record in COLUMNS order (astuple: 1/20 of getattr's CPU); the trail as JSON text."""
    values = astuple(record)
    return (*values[:_TRAIL], encode_trail(record.trail), *values[_TRAIL + 1 :])
