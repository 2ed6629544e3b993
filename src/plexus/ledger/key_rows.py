"""Gateway keys made through the admin API, as rows of the usage store (`gateway_keys`): the
secret's hash and a short prefix (never the secret), the policy, and a rotation's grace. One
SQL text serves both dialects; the request path never reads here (limits/stored.py does, off
it)."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec

from plexus.config import BudgetConfig, KeyConfig
from plexus.ledger.readers import Reader, Row

_POLICY = ("models", "rpm", "tpm", "max_parallel", "budget_usd", "budget_period",
           "budget_warn_at", "expires", "disabled", "comment")  # fmt: skip
_COLUMNS = ("name", "secret_hash", "prefix", *_POLICY, "created", "updated", "previous_hash",
            "previous_until")  # fmt: skip
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM gateway_keys"
_INSERT = (
    f"INSERT INTO gateway_keys ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    "ON CONFLICT (name) DO NOTHING RETURNING name"
)
_UPDATE = (
    f"UPDATE gateway_keys SET {', '.join(f'{c} = ?' for c in _POLICY)}, updated = ?, "
    "revision = revision + 1 WHERE name = ? RETURNING name"
)
# In an UPDATE every right-hand column is the row's old value: the old hash becomes previous.
_ROTATE = (
    "UPDATE gateway_keys SET previous_hash = {previous}, previous_until = ?, secret_hash = ?, "
    "prefix = ?, updated = ?, revision = revision + 1 WHERE name = ? RETURNING name"
)
_DELETE = "DELETE FROM gateway_keys WHERE name = ? RETURNING name"
# Cheap enough to ask every second: a create or a delete changes the count, an update the
# sum of revisions (and the latest update time).
_MARKER = "SELECT count(*), max(updated), sum(revision) FROM gateway_keys"


class KeyRow(msgspec.Struct, frozen=True, kw_only=True):
    """One stored key: who, its secret's hash and prefix, its policy (a YAML key's, without a
    secret), when it was made and changed, and the previous secret during a rotation's grace."""

    name: str
    secret_hash: str  # sha256 hex of the secret
    prefix: str
    policy: KeyConfig
    created: float
    updated: float
    previous_hash: str | None = None
    previous_until: float | None = None  # Unix seconds the previous secret works until


class KeyRows:
    """The `gateway_keys` table through a usage-store reader."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    async def all(self) -> list[KeyRow]:
        """Every stored key, by name."""
        rows = await self.reader.fetch(_SELECT + " ORDER BY name", ())
        return [_key_row(row) for row in rows]

    async def one(self, name: str) -> KeyRow | None:
        """One stored key, or None."""
        rows = await self.reader.fetch(_SELECT + " WHERE name = ?", (name,))
        return _key_row(rows[0]) if rows else None

    async def marker(self) -> tuple[Any, ...]:
        """A value that changes whenever any key is created, changed or deleted."""
        rows = await self.reader.fetch(_MARKER, ())
        return tuple(rows[0]) if rows else ()

    async def create(self, row: KeyRow) -> bool:
        """Store a new key; False when the name is taken."""
        values = (row.name, row.secret_hash, row.prefix, *_policy_values(row.policy),
                  row.created, row.updated, row.previous_hash, row.previous_until)  # fmt: skip
        return bool(await self.reader.execute(_INSERT, values))

    async def update(self, name: str, policy: KeyConfig, now: float) -> bool:
        """Replace a key's policy; False when there is no such key."""
        values = (*_policy_values(policy), now, name)
        return bool(await self.reader.execute(_UPDATE, values))

    async def rotate(
        self, name: str, secret_hash: str, prefix: str, now: float, grace_until: float | None
    ) -> bool:
        """Give a key a new secret; the old one keeps working until `grace_until` (None: it
        stops now). False when there is no such key."""
        previous = "secret_hash" if grace_until is not None else "NULL"
        values = (grace_until, secret_hash, prefix, now, name)
        return bool(await self.reader.execute(_ROTATE.format(previous=previous), values))

    async def delete(self, name: str) -> bool:
        """Delete a key; False when there was none."""
        return bool(await self.reader.execute(_DELETE, (name,)))


def _policy_values(policy: KeyConfig) -> tuple[Any, ...]:
    budget = policy.budget
    models = msgspec.json.encode(policy.models).decode() if policy.models is not None else None
    expires = policy.expires.timestamp() if policy.expires is not None else None
    return (
        models, policy.rpm, policy.tpm, policy.max_parallel,
        budget.usd if budget else None, budget.period if budget else None,
        budget.warn_at if budget else None, expires, policy.disabled, policy.comment,
    )  # fmt: skip


def _key_row(row: Row) -> KeyRow:
    (name, secret_hash, prefix, models, rpm, tpm, max_parallel, budget_usd, budget_period,
     budget_warn_at, expires, disabled, comment, created, updated, previous_hash,
     previous_until) = row  # fmt: skip
    budget = None
    when = datetime.datetime.fromtimestamp(expires, datetime.UTC) if expires is not None else None
    if budget_usd is not None:
        budget = BudgetConfig(usd=budget_usd, period=budget_period, warn_at=budget_warn_at)
    policy = KeyConfig(
        comment=comment,
        models=msgspec.json.decode(models, type=list[str]) if models is not None else None,
        rpm=rpm,
        tpm=tpm,
        max_parallel=max_parallel,
        budget=budget,
        expires=when,
        disabled=bool(disabled),
    )
    return KeyRow(name=name, secret_hash=secret_hash, prefix=prefix, policy=policy,
                  created=created, updated=updated, previous_hash=previous_hash,
                  previous_until=previous_until)  # fmt: skip
