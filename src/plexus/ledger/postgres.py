"""The usage store at scale: Postgres, shared by every replica; rows go in with COPY and the
roll-up with one upsert per batch; migrations run under an advisory lock."""

from __future__ import annotations

import asyncio
from typing import Any

from plexus.ledger.migrate import VERSION_TABLE, pending, statements
from plexus.ledger.record import UsageRecord, encode_trail
from plexus.ledger.rollup import ROLLUP_COLUMNS, SUMMED, rollup

COLUMNS = tuple(UsageRecord.__struct_fields__)
_UPSERT = (
    f"INSERT INTO usage_hourly ({', '.join(ROLLUP_COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(ROLLUP_COLUMNS) + 1))}) "
    "ON CONFLICT (hour, key, alias, provider, upstream_model, client_api) DO UPDATE SET "
    + ", ".join(f"{name} = usage_hourly.{name} + excluded.{name}" for name in SUMMED)
)
_MIGRATION_LOCK = 0x706C6578  # "plex": one replica migrates while the others wait
PRUNE_SLICE = 5000


class PostgresBackend:
    """Writes batches to Postgres; runs its own event loop inside the store's writer thread."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._db: Any = None

    def open(self) -> None:
        """Connect and apply the migrations the database lacks."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        self._run(self._open())

    async def _open(self) -> None:
        import asyncpg  # imported here: embedded (SQLite) installs never load it

        self._db = await asyncpg.connect(self.url, timeout=10)
        async with self._db.transaction():
            await self._db.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await self._db.execute(VERSION_TABLE)
            applied = {r[0] for r in await self._db.fetch("SELECT version FROM schema_version")}
            for version, sql in pending(self.dialect, applied):
                for statement in statements(sql):
                    await self._db.execute(statement)
                await self._db.execute("INSERT INTO schema_version VALUES ($1)", version)

    def write(self, records: list[UsageRecord]) -> None:
        """COPY the rows in and add them to the roll-up, in one transaction."""
        if self._db is None:
            self.open()
        self._run(self._write(records))

    async def _write(self, records: list[UsageRecord]) -> None:
        rows = [tuple(_value(getattr(record, name)) for name in COLUMNS) for record in records]
        async with self._db.transaction():
            await self._db.copy_records_to_table("requests", records=rows, columns=COLUMNS)
            await self._db.executemany(_UPSERT, rollup(records))

    def prune(self, before: float) -> int:
        """Delete rows older than `before`, a slice at a time."""
        if self._db is None:
            self.open()
        result: int = self._run(self._prune(before))
        return result

    async def _prune(self, before: float) -> int:
        gone = 0
        while True:
            status = await self._db.execute(
                "DELETE FROM requests WHERE id IN "
                "(SELECT id FROM requests WHERE time < $1 LIMIT $2)",
                before,
                PRUNE_SLICE,
            )
            count = int(status.rsplit(" ", 1)[-1])
            gone += count
            if count < PRUNE_SLICE:
                break
        await self._db.execute("DELETE FROM usage_hourly WHERE hour < $1", int(before))
        return gone

    def close(self) -> None:
        """Close the connection and the loop."""
        if self._db is not None and self._loop is not None:
            try:
                self._run(self._db.close(timeout=5))
            except Exception:  # closing a broken connection: drop it instead
                self._db.terminate()
        self._db = None
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def _run(self, work: Any) -> Any:
        assert self._loop is not None
        try:
            return self._loop.run_until_complete(work)
        except BaseException:
            # A broken connection is replaced on the next call.
            if self._db is not None and self._db.is_closed():
                self._db = None
            raise


def _value(value: object) -> object:
    return encode_trail(value) if isinstance(value, list) else value
