"""Gateway keys made through the admin API (issue 14): created, used by the official SDK,
limited as a YAML key is, disabled, rotated and deleted; the secret shown once, stored as its
hash, never in a GET, an audit row or a log line; the config's keys read-only here."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from structlog.testing import capture_logs

from plexus.app import Gateway
from plexus.ledger.readers import SQLiteReader
from tests.admin.conftest import ADMIN_KEY, GATEWAY_KEY, Admin
from tests.conftest import Upstreams, run_gateway
from tests.ledger.test_key_rows import migrate_to

HI: Any = [{"role": "user", "content": "hi"}]
SECRET = re.compile(r"sk-plx-[A-Za-z0-9_-]{43}")


def client(url: str, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key=secret, max_retries=0)


async def create(admin: Admin, name: str, **policy: Any) -> str:
    """Make a key through the API; its secret."""
    status, answer, _ = await admin.call("POST", "/keys", {"name": name, **policy})
    assert status == 201, answer
    assert answer["key"]["name"] == name and answer["key"]["source"] == "admin"
    secret: str = answer["secret"]
    assert SECRET.fullmatch(secret)
    assert answer["key"]["prefix"] == secret[:12]
    return secret


async def chat(url: str, secret: str, model: str = "chat-model") -> str:
    answer = await client(url, secret).chat.completions.create(model=model, messages=HI)
    return answer.choices[0].message.content or ""


def usage_db(gateway: Gateway) -> Path:
    return Path(gateway.config.server.data_dir) / "usage.db"


async def test_a_created_key_works_and_only_its_hash_is_kept(admin: Admin) -> None:
    with capture_logs() as logs:
        secret = await create(admin, "ci-bot", comment="the CI")
        assert await chat(admin.url, secret)
        status, listed, _ = await admin.call("GET", "/keys")
        _, one, _ = await admin.call("GET", "/keys/ci-bot")
        _, audit, _ = await admin.call("GET", "/audit")
    assert status == 200
    by_name = {key["name"]: key for key in listed["data"]}
    assert by_name["alice"]["source"] == "config" and by_name["alice"]["prefix"] is None
    assert by_name["ci-bot"]["comment"] == "the CI" and one["prefix"] == secret[:12]
    assert secret not in str(listed) + str(one)
    assert [e["action"] for e in audit["data"]][:1] == ["key.create"]
    assert secret not in str(audit) and secret[12:20] not in str(audit)
    assert secret not in str(logs)
    with sqlite3.connect(usage_db(admin.gateway)) as db:
        rows = db.execute("SELECT * FROM gateway_keys").fetchall()
        digest, prefix = db.execute("SELECT secret_hash, prefix FROM gateway_keys").fetchone()
    assert digest == hashlib.sha256(secret.encode()).hexdigest() and prefix == secret[:12]
    assert not any(isinstance(v, str) and secret[12:] in v for row in rows for v in row)
    for _ in range(100):  # the usage record carries the key's name
        _, page, _ = await admin.call("GET", "/requests", key="ci-bot")
        if page["data"]:
            break
        await asyncio.sleep(0.05)
    assert page["data"][0]["key"] == "ci-bot"


async def test_a_stored_keys_allowlist_and_rpm_hold(admin: Admin) -> None:
    admin.gateway.limiter.clock = lambda: 7200.5  # one window for the whole test
    secret = await create(admin, "narrow", models=["chat-model"], rpm=2)
    sdk = client(admin.url, secret)
    with pytest.raises(openai.PermissionDeniedError, match="may not use the model"):
        await sdk.chat.completions.create(model="messages-model", messages=HI)
    assert [m.id async for m in sdk.models.list()] == ["chat-model"]
    for _ in range(2):
        await sdk.chat.completions.create(model="chat-model", messages=HI)
    with pytest.raises(openai.RateLimitError):
        await sdk.chat.completions.create(model="chat-model", messages=HI)
    async with aiohttp.ClientSession() as session:
        auth = {"authorization": f"Bearer {secret}"}
        async with session.get(admin.url + "/v0/self", headers=auth) as answer:
            mine = await answer.json()
    assert mine["name"] == "narrow" and mine["limits"]["rpm"]["remaining"] == 0
    _, shown, _ = await admin.call("GET", "/keys/narrow")
    assert shown["usage"]["rpm"]["used"] == 2


async def test_disable_rotate_and_delete(admin: Admin) -> None:
    secret = await create(admin, "worker")
    status, changed, _ = await admin.call("PATCH", "/keys/worker", {"disabled": True})
    assert status == 200 and changed["disabled"] is True
    with pytest.raises(openai.AuthenticationError, match="is disabled"):
        await chat(admin.url, secret)
    await admin.call("PATCH", "/keys/worker", {"disabled": False, "rpm": 100})
    assert await chat(admin.url, secret)
    status, rotated, _ = await admin.call("POST", "/keys/worker/rotate")
    assert status == 200
    new = rotated["secret"]
    assert SECRET.fullmatch(new) and new != secret and rotated["key"]["rpm"] == 100
    with pytest.raises(openai.AuthenticationError):
        await chat(admin.url, secret)
    assert await chat(admin.url, new)
    _, graced, _ = await admin.call("POST", "/keys/worker/rotate", {"grace_seconds": 60})
    assert await chat(admin.url, new)  # the old secret, within its grace
    assert await chat(admin.url, graced["secret"])
    assert graced["key"]["previous_until"] > time.time() + 50
    status, _, _ = await admin.call("DELETE", "/keys/worker")
    assert status == 200
    for gone in (new, graced["secret"]):
        with pytest.raises(openai.AuthenticationError):
            await chat(admin.url, gone)
    status, _, _ = await admin.call("GET", "/keys/worker")
    assert status == 404
    _, audit, _ = await admin.call("GET", "/audit")
    actions = [entry["action"] for entry in audit["data"]]
    assert actions[:6] == ["key.delete", "key.rotate", "key.rotate", "key.update",
                           "key.disable", "key.create"]  # fmt: skip
    assert "sk-plx-" not in str(audit)


async def test_config_keys_are_read_only_here_and_names_are_unique(admin: Admin) -> None:
    for method, path in [("PATCH", "/keys/alice"), ("POST", "/keys/alice/rotate"),
                         ("DELETE", "/keys/alice")]:  # fmt: skip
        status, answer, _ = await admin.call(method, path, {} if method == "PATCH" else None)
        assert status == 409, (method, answer)
        assert "config file" in answer["error"]["message"]
    status, answer, _ = await admin.call("POST", "/keys", {"name": "alice"})
    assert status == 409 and "config file" in answer["error"]["message"]
    await create(admin, "bob")
    status, answer, _ = await admin.call("POST", "/keys", {"name": "bob"})
    assert status == 409 and "exists" in answer["error"]["message"]
    status, _, _ = await admin.call("PATCH", "/keys/nobody", {"rpm": 1})
    assert status == 404
    assert await chat(admin.url, GATEWAY_KEY)  # alice untouched


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"rpm": 0}, "rpm"),
        ({"models": ["no-such-model"]}, "models[0]"),
        ({"budget": {"usd": 5, "period": "fortnight"}}, "budget.period"),
        ({"expires": "next tuesday"}, "expires"),
        ({"secret": "mine"}, ""),
        ({"name": "has space"}, "name"),
    ],
)
async def test_a_bad_key_is_400_with_its_problem(
    admin: Admin, body: dict[str, Any], path: str
) -> None:
    status, answer, _ = await admin.call("POST", "/keys", {"name": "k", **body})
    assert status == 400, answer
    assert [p["path"] for p in answer["error"]["problems"]] == [path]
    status, listed, _ = await admin.call("GET", "/keys")
    assert [k["name"] for k in listed["data"]] == ["alice"]


async def test_a_change_is_validated_like_a_creation(admin: Admin) -> None:
    await create(admin, "k", expires="2099-01-01")
    status, answer, _ = await admin.call("PATCH", "/keys/k", {"tpm": -3})
    assert status == 400 and answer["error"]["problems"][0]["path"] == "tpm"
    status, answer, _ = await admin.call("PATCH", "/keys/k", {"models": ["chat-*"]})
    assert status == 200 and answer["models"] == ["chat-*"]
    assert answer["expires"] == 4070908800.0  # kept, as the UTC midnight of the date


async def test_an_expired_stored_key_is_401(admin: Admin) -> None:
    secret = await create(admin, "old", expires="2020-01-01")
    with pytest.raises(openai.AuthenticationError, match="expired at 2020-01-01"):
        await chat(admin.url, secret)


async def test_a_config_reload_keeps_the_stored_keys(admin: Admin) -> None:
    secret = await create(admin, "kept")
    admin.path.write_text(admin.path.read_text().replace("max_attempts: 2", "max_attempts: 3"))
    assert admin.gateway.watcher is not None and admin.gateway.watcher.reload()
    assert admin.gateway.config.server.max_attempts == 3
    assert await chat(admin.url, secret)


async def test_stored_keys_close_a_gateway_without_config_keys(
    upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEXUS_ADMIN_KEY", ADMIN_KEY)
    gateway = Gateway(upstreams.config())
    async with run_gateway(gateway.config, gateway) as url, aiohttp.ClientSession() as session:
        admin = Admin(url, Path(), gateway, session)
        assert await chat(url, "anything")  # open: no key anywhere
        secret = await create(admin, "first")
        with pytest.raises(openai.AuthenticationError):
            await chat(url, "anything")
        assert await chat(url, secret)
        await admin.call("DELETE", "/keys/first")
        assert await chat(url, "anything")  # open again


async def test_without_a_usage_store_the_key_endpoints_are_409(
    upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEXUS_ADMIN_KEY", ADMIN_KEY)
    gateway = Gateway(upstreams.config({"usage": {"database": "none"}}))
    async with run_gateway(gateway.config, gateway) as url, aiohttp.ClientSession() as session:
        admin = Admin(url, Path(), gateway, session)
        for method, path in [("GET", "/keys"), ("POST", "/keys"), ("DELETE", "/keys/x")]:
            status, answer, _ = await admin.call(method, path, {"name": "x"})
            assert status == 409 and "usage.database: none" in answer["error"]["message"]


async def test_a_key_made_through_one_gateway_works_through_another(
    upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two gateways on one SQLite file, as two workers are: the other polls the change."""
    monkeypatch.setenv("PLEXUS_ADMIN_KEY", ADMIN_KEY)
    config = upstreams.config({"keys": {"alice": {"secret": GATEWAY_KEY}}})
    gateway = Gateway(config)
    async with (
        run_gateway(config, gateway) as first,
        run_gateway(config) as second,
        aiohttp.ClientSession() as session,
    ):
        admin = Admin(first, Path(), gateway, session)
        secret = await create(admin, "team")
        started = time.monotonic()
        while True:
            try:
                assert await chat(second, secret)
                break
            except openai.AuthenticationError:
                assert time.monotonic() - started < 3.0, "not picked up within 3 s"
                await asyncio.sleep(0.1)
        await admin.call("DELETE", "/keys/team")
        await asyncio.sleep(2.5)
        with pytest.raises(openai.AuthenticationError):
            await chat(second, secret)


async def test_without_config_keys_a_store_that_cannot_answer_refuses_everyone(
    upstreams: Upstreams, data_dir: Path
) -> None:
    """Whether the store holds keys is unknown: the gateway must not run open meanwhile. A key
    it cannot check yet is a 503 to retry, not a 401 that says the key is wrong."""
    (data_dir / "usage.db").mkdir(parents=True)  # the database cannot be opened
    gateway = Gateway(upstreams.config())
    async with run_gateway(gateway.config, gateway) as url:
        with pytest.raises(openai.InternalServerError) as unknown:
            await chat(url, "anything")
        assert unknown.value.status_code == 503
        assert unknown.value.response.headers["retry-after"] == "5"
        async with aiohttp.ClientSession() as session:  # no key at all: still a 401
            body = {"model": "chat-model", "messages": HI}
            async with session.post(url + "/v1/chat/completions", json=body) as answer:
                assert answer.status == 401
        assert gateway.stored_keys is not None and gateway.stored_keys.unknown
        (data_dir / "usage.db").rmdir()
        gateway.stored_keys.rows.reader = SQLiteReader(data_dir / "fresh.db")
        migrate_to(data_dir / "fresh.db", 4)
        started = time.monotonic()
        while not gateway.stored_keys.keys and gateway.stored_keys.unknown:
            assert time.monotonic() - started < 3.0
            await asyncio.sleep(0.1)
        assert await chat(url, "anything")  # the store answered: it holds none
