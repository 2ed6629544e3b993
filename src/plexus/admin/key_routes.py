"""Gateway key endpoints: the config file's keys (read-only here) and the keys this API makes,
stored hashed in the usage store, their secret shown once: in the answer that made it (a
creation or a rotation), never again. A change is applied in this worker before the answer
and audited without the secret; the other workers and replicas poll it (limits/stored.py)."""

from __future__ import annotations

import re
import secrets
import time
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from plexus.admin.call import Call, Reply, reply
from plexus.admin.wire import (
    AdminError,
    KeyChange,
    KeyCreate,
    KeyDeleted,
    KeyList,
    KeyRotation,
    KeySecret,
    KeyView,
    Problem,
    bad_request,
    conflict,
    not_found,
)
from plexus.config import ConfigError, KeyConfig, parse_key
from plexus.ledger.key_rows import KeyRow
from plexus.limits.keys import secret_hash
from plexus.limits.stored import StoredKeys

if TYPE_CHECKING:
    from plexus.admin.api import AdminApi

T = TypeVar("T")
SECRET_PREFIX = "sk-plx-"
PREFIX_CHARS = 12  # what a list shows of a secret: `sk-plx-` and 5 of its 43 random characters
_AT = re.compile(r"^(.*) - at `\$\.?(.*)`$")


def new_secret() -> str:
    """A gateway key's secret: 32 random bytes, URL-safe base64, after `sk-plx-`."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _stored(admin: AdminApi) -> StoredKeys:
    stored = admin.gateway.stored_keys
    if stored is None:
        raise conflict("the usage store is off (usage.database: none): keys live in the config")
    return stored


async def list_keys(admin: AdminApi, call: Call) -> Reply:
    """Every key: the config file's, then the stored ones, by name."""
    rows = await _stored(admin).rows.all()
    config_keys = admin.gateway.config.keys
    views = [_view(admin, name, key, None) for name, key in config_keys.items()]
    views += [_view(admin, row.name, row.policy, row) for row in rows]
    return reply(KeyList(views))


async def get_key(admin: AdminApi, call: Call) -> Reply:
    """One key by name (the config file's when both have it: that one is in force)."""
    stored, name = _stored(admin), call.params["name"]
    key = admin.gateway.config.keys.get(name)
    if key is not None:
        return reply(_view(admin, name, key, None))
    row = await stored.rows.one(name)
    if row is None:
        raise not_found(f"no key {name!r}")
    return reply(_view(admin, name, row.policy, row))


async def create_key(admin: AdminApi, call: Call) -> Reply:
    """Make a key; 201 with its secret, which no other answer ever holds."""
    stored = _stored(admin)
    wanted = _decode(call, KeyCreate)
    name = wanted.name
    if name in admin.gateway.config.keys:
        raise conflict(f"the config file has a key named {name!r}: choose another name")
    fields = msgspec.to_builtins(wanted)
    del fields["name"]
    policy = _validated(admin, name, fields)
    secret, now = new_secret(), time.time()
    row = KeyRow(name=name, secret_hash=secret_hash(secret), prefix=secret[:PREFIX_CHARS],
                 policy=policy, created=now, updated=now)  # fmt: skip
    if not await stored.rows.create(row):
        raise conflict(f"a key named {name!r} exists already")
    await stored.refresh()
    await admin.audit("key.create", name, {"fields": _set_fields(fields)})
    return reply(KeySecret(_view(admin, name, policy, row), secret), status=201)


async def change_key(admin: AdminApi, call: Call) -> Reply:
    """Change a stored key's policy: the fields given, the others kept."""
    stored, name = _stored(admin), call.params["name"]
    change = msgspec.to_builtins(_decode(call, KeyChange))
    row = await _own(admin, stored, name)
    current = msgspec.to_builtins(row.policy)
    del current["secret"]
    policy = _validated(admin, name, {**current, **change})
    if not await stored.rows.update(name, policy, time.time()):
        raise not_found(f"no key {name!r}")
    await stored.refresh()
    action = "key.update"
    if set(change) == {"disabled"}:
        action = "key.disable" if policy.disabled else "key.enable"
    await admin.audit(action, name, {"changed": sorted(change)})
    return reply(_view(admin, name, policy, await stored.rows.one(name)))


async def rotate_key(admin: AdminApi, call: Call) -> Reply:
    """Give a stored key a new secret, shown in this answer only; the old one stops working
    now, or after `grace_seconds`."""
    stored, name = _stored(admin), call.params["name"]
    rotation = _decode(call, KeyRotation) if call.body.strip() else KeyRotation()
    await _own(admin, stored, name)
    secret, now = new_secret(), time.time()
    grace_until = now + rotation.grace_seconds if rotation.grace_seconds > 0 else None
    if not await stored.rows.rotate(name, secret_hash(secret), secret[:PREFIX_CHARS], now,
                                    grace_until):  # fmt: skip
        raise not_found(f"no key {name!r}")
    await stored.refresh()
    await admin.audit("key.rotate", name, {"grace_seconds": rotation.grace_seconds})
    row = await stored.rows.one(name)
    if row is None:  # deleted by someone else meanwhile: its new secret works nowhere
        raise not_found(f"no key {name!r}")
    return reply(KeySecret(_view(admin, name, row.policy, row), secret))


async def delete_key(admin: AdminApi, call: Call) -> Reply:
    """Delete a stored key: its secret stops working."""
    stored, name = _stored(admin), call.params["name"]
    await _own(admin, stored, name)
    if not await stored.rows.delete(name):
        raise not_found(f"no key {name!r}")
    await stored.refresh()
    await admin.audit("key.delete", name, {})
    return reply(KeyDeleted(name, True))


async def _own(admin: AdminApi, stored: StoredKeys, name: str) -> KeyRow:
    """The stored key `name`; 409 for a key of the config file, 404 for none."""
    row = await stored.rows.one(name)
    if row is not None:
        return row
    if name in admin.gateway.config.keys:
        raise conflict(
            f"the key {name!r} is in the config file (keys.{name}): change it there, e.g. on the "
            "Settings page; only keys made through this API are changed here"
        )
    raise not_found(f"no key {name!r}")


def _decode(call: Call, kind: type[T]) -> T:
    """The body as `kind`; a value out of bounds is a problem at its field, as the config's."""
    try:
        return msgspec.json.decode(call.body, type=kind)
    except msgspec.ValidationError as error:
        found = _AT.match(str(error))
        problem = Problem(found[2], found[1]) if found else Problem("", str(error))
        raise _invalid([problem]) from error
    except msgspec.DecodeError as error:
        raise bad_request(f"invalid body: {error}") from error


def _validated(admin: AdminApi, name: str, fields: dict[str, Any]) -> KeyConfig:
    """The policy as the config's `keys:` validates it (allowlist names included)."""
    try:
        return parse_key(name, fields, admin.gateway.config)
    except ConfigError as error:
        prefix = f"keys.{name}"
        problems = []
        for text in error.problems:
            path, _, message = text.partition(": ")
            path = path.removeprefix(prefix).removeprefix(".")
            problems.append(Problem(path, message))
        raise _invalid(problems) from error


def _invalid(problems: list[Problem]) -> AdminError:
    return AdminError(400, "invalid_key", "the key is not valid", problems)


def _set_fields(fields: dict[str, Any]) -> list[str]:
    """The policy fields given a value (for the audit: names, not values)."""
    return sorted(name for name, value in fields.items() if value not in (None, False))


def _view(admin: AdminApi, name: str, key: KeyConfig, row: KeyRow | None) -> KeyView:
    limits = msgspec.json.decode(admin.gateway.gate.view(name)).get("limits", {})
    return KeyView(
        name=name,
        source="admin" if row is not None else "config",
        prefix=row.prefix if row is not None else None,
        models=key.models,
        rpm=key.rpm,
        tpm=key.tpm,
        max_parallel=key.max_parallel,
        budget=key.budget,
        expires=key.expires.timestamp() if key.expires is not None else None,
        disabled=key.disabled,
        comment=key.comment,
        created=row.created if row is not None else None,
        updated=row.updated if row is not None else None,
        previous_until=row.previous_until if row is not None else None,
        usage=limits,
    )
