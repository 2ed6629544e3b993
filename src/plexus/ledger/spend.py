"""What each key spent since a moment, from the hourly roll-up (budgets restored at start)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from plexus.ledger.postgres import PostgresBackend
from plexus.ledger.sqlite import SQLiteBackend
from plexus.ledger.store import Backend

Spend = dict[str, list[tuple[int, float]]]  # key → (hour, USD) for each hour with a cost
_QUERY = (
    "SELECT key, hour, SUM(cost_usd) FROM usage_hourly WHERE hour >= {} AND key <> '' "
    "GROUP BY key, hour"
)


async def spend_since(backend: Backend, since: float) -> Spend:
    """The cost by key and hour from the hour `since` falls in (budget periods start on the
    hour, so the roll-up is exact for them)."""
    hour = int(since // 3600 * 3600)
    if isinstance(backend, SQLiteBackend):
        rows = await asyncio.to_thread(_sqlite_rows, backend.path, hour)
    elif isinstance(backend, PostgresBackend):
        rows = await _postgres_rows(backend.url, hour)
    else:
        return {}
    spend: Spend = {}
    for key, start, usd in rows:
        spend.setdefault(key, []).append((int(start), float(usd or 0.0)))
    return spend


def _sqlite_rows(path: Path, hour: int) -> list[tuple[str, int, float]]:
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0) as db:
        try:
            return db.execute(_QUERY.format("?"), (hour,)).fetchall()
        except sqlite3.OperationalError:  # no roll-up table yet: nothing was spent
            return []


async def _postgres_rows(url: str, hour: int) -> list[tuple[str, int, float]]:
    import asyncpg  # imported here: embedded (SQLite) installs never load it

    db = await asyncpg.connect(url, timeout=10)
    try:
        records = await db.fetch(_QUERY.format("$1"), hour)
    finally:
        await db.close()
    return [(r[0], r[1], r[2]) for r in records]
