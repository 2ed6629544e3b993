"""Numbered SQL migrations (`migrations/<dialect>/NNNN_name.sql`) and the schema-version rule:
apply the ones a database lacks, in order; refuse a database newer than this code.

`schema_version` holds one row per applied migration, and a database lacks exactly the numbers
it has no row for: numbers may have gaps, and a migration merged later with a lower number than
one already applied is still applied (migrations are written to be independent of each other)."""

from __future__ import annotations

from importlib import resources

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"


class SchemaTooNew(Exception):
    """The database was migrated by a newer Plexus; running on it could corrupt it."""


def migrations(dialect: str) -> list[tuple[int, str]]:
    """(version, SQL) of every migration of `dialect`, in order."""
    folder = resources.files("plexus.ledger") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


def pending(dialect: str, applied: set[int]) -> list[tuple[int, str]]:
    """The migrations not in `applied`, in order; SchemaTooNew when the database has one
    newer than every migration this code knows."""
    known = migrations(dialect)
    latest = known[-1][0] if known else 0
    current = max(applied, default=0)
    if current > latest:
        raise SchemaTooNew(
            f"the usage database is at schema version {current}, newer than this Plexus "
            f"knows ({latest}): upgrade Plexus, or point it at another database"
        )
    return [(version, sql) for version, sql in known if version not in applied]


def statements(sql: str) -> list[str]:
    """The statements of a migration file (`;`-separated; no `;` inside string literals)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
