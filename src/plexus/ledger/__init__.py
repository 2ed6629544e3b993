"""The usage ledger: every finished request becomes one `UsageRecord`, handed to the access
log, the usage store and the metrics (platform.md 1-4)."""

from __future__ import annotations

from pathlib import Path

from plexus.config import UsageConfig
from plexus.ledger.record import UsageRecord
from plexus.ledger.store import Backend, UsageStore

__all__ = ["UsageRecord", "UsageStore", "open_store", "store_backend"]


def store_backend(config: UsageConfig, data_dir: str | Path) -> Backend | None:
    """The backend `usage.database` names, or None for `none`."""
    database = config.database
    if database == "none":
        return None
    if database.startswith(("postgres://", "postgresql://")):
        from plexus.ledger.postgres import PostgresBackend

        return PostgresBackend(database)
    from plexus.ledger.sqlite import SQLiteBackend

    if database.startswith("sqlite:///"):
        return SQLiteBackend(database.removeprefix("sqlite:///"))
    return SQLiteBackend(Path(data_dir) / "usage.db")


def open_store(config: UsageConfig, data_dir: str | Path) -> UsageStore | None:
    """The usage store of a config, not started, or None when it has none."""
    backend = store_backend(config, data_dir)
    if backend is None:
        return None
    return UsageStore(
        backend,
        buffer_rows=config.buffer_rows,
        flush_seconds=config.flush_seconds,
        retention_days=config.retention_days,
    )
