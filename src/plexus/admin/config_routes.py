"""Config endpoints: the whole file (read redacted, validate, replace) and its providers and
aliases one at a time. Every write is checked by the normal loader before the file is touched,
replaced atomically and applied by the reload before the answer; every refusal leaves the file
byte for byte as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import yaml

from plexus.admin import yaml_edit
from plexus.admin.call import Call, Reply, reply
from plexus.admin.config_file import ConfigFile, etag
from plexus.admin.monitor import target_health
from plexus.admin.wire import (
    AdminError,
    AliasList,
    AliasSummary,
    ConfigText,
    ConfigView,
    Problem,
    ProviderList,
    ProviderSummary,
    TargetView,
    Validity,
    Written,
    conflict,
    not_found,
)
from plexus.config import Config, ConfigError, parse_config
from plexus.providers import ADAPTERS

if TYPE_CHECKING:
    from plexus.admin.api import AdminApi

Edit = Callable[[str], str]  # the file's current text → its new text


def _file(admin: AdminApi) -> ConfigFile:
    if admin.file is None:
        raise conflict("the gateway was started without a config file: nothing to read or edit")
    return admin.file


async def get_config(admin: AdminApi, call: Call) -> Reply:
    """The file's text with every secret redacted, its ETag, and whether it can be written."""
    file = _file(admin)
    data = await _read(file)
    refusal = file.refusal(admin.gateway.config.admin.config_writes)
    text = yaml_edit.redact(data.decode())
    return reply(ConfigView(text, file.shown, refusal is None, refusal), etag=etag(data))


async def put_config(admin: AdminApi, call: Call) -> Reply:
    """Replace the whole file (`If-Match` required); placeholders keep their secrets."""
    text = call.decode(ConfigText).yaml
    return await _save(admin, call, lambda current: text, "config.replace", "config", True)


async def validate(admin: AdminApi, call: Call) -> Reply:
    """Check a text as the loader would, placeholders standing for the file's secrets."""
    text = call.decode(ConfigText).yaml
    if admin.file is not None:
        text = yaml_edit.restore(text, (await _read(admin.file)).decode())
    check(text)
    return reply(Validity(True))


async def _read(file: ConfigFile) -> bytes:
    try:
        return await asyncio.to_thread(file.read)
    except OSError as error:
        raise conflict(f"the config file {file.shown} cannot be read: {error.strerror}") from error


def check(text: str) -> Config:
    """The config a text holds, validated by the normal loader; 400 listing every problem."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise _invalid([yaml_edit.yaml_problem(error)]) from error
    _no_placeholders(raw, "")
    try:
        return parse_config(raw if raw is not None else {}, ADAPTERS)
    except ConfigError as error:
        raise _invalid([_problem(text) for text in error.problems]) from error


def _no_placeholders(value: Any, path: str) -> None:
    """A placeholder that reached this far stands for no secret: never write it as a value."""
    if isinstance(value, dict):
        for key, item in value.items():
            _no_placeholders(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_placeholders(item, f"{path}[{index}]")
    elif isinstance(value, str) and yaml_edit.PLACEHOLDER.match(value):
        raise _invalid([Problem(path, "a redacted placeholder that stands for no secret")])


def _problem(text: str) -> Problem:
    path, _, message = text.partition(": ")
    return Problem(path, message) if message else Problem("", text)


def _invalid(problems: list[Problem]) -> AdminError:
    return AdminError(400, "invalid_config", "the config is not valid", problems)


async def _save(
    admin: AdminApi, call: Call, edit: Edit, action: str, target: str, required: bool
) -> Reply:
    """Apply `edit` to the file: checked, written, reloaded here, audited."""
    file = _file(admin)
    refusal = file.refusal(admin.gateway.config.admin.config_writes)
    if refusal is not None:
        raise conflict(refusal)
    presented = call.headers.get("if-match")
    async with admin.edits:  # this worker's edits in order; the file lock orders the workers'
        before, after = await asyncio.to_thread(_replace, file, edit, presented, required)
        applied = _reload(admin)
    detail = {"etag_before": etag(before), "etag_after": etag(after),
              "changed": changed(before.decode(), after.decode())}  # fmt: skip
    await admin.audit(action, target, detail)
    return reply(Written(etag(after), applied), etag=etag(after))


def _replace(
    file: ConfigFile, edit: Edit, presented: str | None, required: bool
) -> tuple[bytes, bytes]:
    """Under the file's lock: read it, check the version, edit, validate, write; the bytes
    before and after (the file untouched when they are the same)."""
    with file.locked():
        before = file.read()
        _check_version(presented, etag(before), required)
        original = before.decode()
        text = yaml_edit.restore(edit(original), original)
        check(text)
        after = text.encode()
        if after != before:
            try:
                file.write(after)
            except OSError as error:
                raise conflict(f"the config file cannot be written: {error.strerror}") from error
        return before, after


def _check_version(presented: str | None, current: str, required: bool) -> None:
    if presented is None:
        if required:
            raise AdminError(
                428, "precondition_required", "If-Match with the config's ETag is required"
            )
        return
    tags = {tag.strip().removeprefix("W/") for tag in presented.split(",")}
    if "*" not in tags and current not in tags:
        message = f"the config changed since it was read (now {current}): read it again"
        raise AdminError(412, "precondition_failed", message)


def _reload(admin: AdminApi) -> bool:
    """Apply the file now in this worker (the others' watchers follow within a second)."""
    watcher = admin.gateway.watcher
    return watcher.reload() if watcher is not None else False


def changed(before: str, after: str) -> list[str]:
    """Which sections and entries differ (`providers.openai`): paths only, never values."""
    old, new = yaml.safe_load(before) or {}, yaml.safe_load(after) or {}
    paths = []
    for section in sorted(set(old) | set(new), key=str):
        a, b = old.get(section), new.get(section)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            paths += [f"{section}.{name}" for name in sorted(set(a) | set(b), key=str)
                      if a.get(name) != b.get(name)]  # fmt: skip
        else:
            paths.append(str(section))
    return paths


async def list_providers(admin: AdminApi, call: Call) -> Reply:
    """The running config's providers, each with its targets' health."""
    gateway = admin.gateway
    health = target_health(gateway.health, gateway.router.targets())
    data = [
        ProviderSummary(name, provider.type, provider.api_base_url, provider.preset,
                        provider.models, [h for h in health if h.provider == name])
        for name, provider in gateway.config.providers.items()
    ]  # fmt: skip
    return reply(ProviderList(data))


async def list_aliases(admin: AdminApi, call: Call) -> Reply:
    """The running config's aliases."""
    data = [
        AliasSummary(name, alias.selector,
                     [TargetView(t.provider, t.model, t.weight) for t in alias.targets])
        for name, alias in admin.gateway.config.models.items()
    ]  # fmt: skip
    return reply(AliasList(data))


async def _get_entry(admin: AdminApi, section: str, name: str) -> Reply:
    data = await _read(_file(admin))
    entry = yaml_edit.section_entry(yaml_edit.redact(data.decode()), section, name)
    if entry is None:
        raise not_found(f"{section}.{name} is not in the config file")
    return reply(entry, etag=etag(data))


async def _put_entry(admin: AdminApi, call: Call, section: str, name: str) -> Reply:
    value = call.decode(dict[str, Any])

    def edit(text: str) -> str:
        return yaml_edit.set_entry(text, section, name, value)

    return await _save(admin, call, edit, f"{section}.put", f"{section}.{name}", False)


async def _delete_entry(admin: AdminApi, call: Call, section: str, name: str) -> Reply:
    def edit(text: str) -> str:
        return yaml_edit.set_entry(text, section, name, None)

    return await _save(admin, call, edit, f"{section}.delete", f"{section}.{name}", False)


async def get_provider(admin: AdminApi, call: Call) -> Reply:
    """One provider's mapping as the file has it (secrets redacted)."""
    return await _get_entry(admin, "providers", call.params["name"])


async def put_provider(admin: AdminApi, call: Call) -> Reply:
    """Create or replace one provider."""
    return await _put_entry(admin, call, "providers", call.params["name"])


async def delete_provider(admin: AdminApi, call: Call) -> Reply:
    """Delete one provider (400 while an alias still routes to it)."""
    return await _delete_entry(admin, call, "providers", call.params["name"])


async def get_alias(admin: AdminApi, call: Call) -> Reply:
    """One alias's mapping as the file has it."""
    return await _get_entry(admin, "models", call.params["name"])


async def put_alias(admin: AdminApi, call: Call) -> Reply:
    """Create or replace one alias."""
    return await _put_entry(admin, call, "models", call.params["name"])


async def delete_alias(admin: AdminApi, call: Call) -> Reply:
    """Delete one alias."""
    return await _delete_entry(admin, call, "models", call.params["name"])
