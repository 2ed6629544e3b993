"""Providers and aliases one at a time: what you GET is what you PUT back; edits keep the rest
of the file, are applied at once and audited."""

from __future__ import annotations

import aiohttp

from tests.admin.conftest import ENV_KEY, GATEWAY_KEY, UPSTREAM_KEY, Admin


async def test_list_providers_and_aliases(admin: Admin) -> None:
    status, body, _ = await admin.call("GET", "/providers")
    assert status == 200
    chat = next(p for p in body["data"] if p["name"] == "mock-chat")
    assert chat["type"] == "chat" and chat["models"] == ["up-chat"] and chat["preset"] is None
    assert chat["health"] == [
        {"provider": "mock-chat", "model": "up-chat", "state": "ok", "cooling_until": None,
         "failures": 0}
    ]  # fmt: skip
    status, body, _ = await admin.call("GET", "/aliases")
    assert status == 200
    alias = next(a for a in body["data"] if a["name"] == "chat-model")
    assert alias["targets"] == [{"provider": "mock-chat", "model": "up-chat", "weight": 1.0}]


async def test_get_a_provider_as_the_file_has_it(admin: Admin) -> None:
    status, body, response = await admin.call("GET", "/providers/mock-messages")
    assert status == 200
    assert body["api_key"] == "***REDACTED:providers.mock-messages.api_key***"
    assert set(body) == {"type", "api_base_url", "api_key"}  # no defaults filled in
    assert response.headers["ETag"]
    status, body, _ = await admin.call("GET", "/providers/absent")
    assert (status, body["error"]["type"]) == (404, "not_found")


async def test_put_back_what_was_read_keeps_the_file(admin: Admin) -> None:
    before = admin.path.read_bytes()
    _, body, response = await admin.call("GET", "/providers/mock-chat")
    headers = admin.headers(**{"If-Match": response.headers["ETag"]})
    status, written, _ = await admin.call("PUT", "/providers/mock-chat", body, headers)
    assert status == 200, written
    text = admin.path.read_text()
    assert "api_key: ${PLEXUS_TEST_UPSTREAM_KEY}" in text
    assert "# the chat mock" in text
    assert text == before.decode()


async def test_create_a_provider_and_an_alias_then_route_by_them(admin: Admin) -> None:
    _, chat, _ = await admin.call("GET", "/providers/mock-chat")
    chat["api_key"] = "${PLEXUS_TEST_UPSTREAM_KEY}"  # a reference, as the file may hold
    status, _, _ = await admin.call("PUT", "/providers/second", chat)
    assert status == 200
    alias = {"targets": [{"provider": "second", "model": "up-chat"}]}
    status, written, _ = await admin.call("PUT", "/aliases/routed", alias)
    assert status == 200 and written["applied"] is True
    text = admin.path.read_text()
    assert "# The test gateway's config" in text and f"secret: {GATEWAY_KEY}" in text
    assert f'api_key: "{UPSTREAM_KEY}"' in text
    assert admin.gateway.config.providers["second"].api_key == ENV_KEY
    assert text.count("api_key: ${PLEXUS_TEST_UPSTREAM_KEY}") == 2
    body = {"model": "routed", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}"}
    url = f"{admin.url}/v1/chat/completions"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        assert response.status == 200
        assert (await response.json())["model"] == "up-chat"  # the alias did not exist before
    _, log, _ = await admin.call("GET", "/audit")
    actions = [(e["action"], e["target"]) for e in log["data"]]
    assert actions[:2] == [("models.put", "models.routed"), ("providers.put", "providers.second")]
    assert all(e["actor"] == "admin" for e in log["data"])
    assert ENV_KEY not in str(log)


async def test_an_invalid_entry_is_refused_and_the_file_kept(admin: Admin) -> None:
    before = admin.path.read_bytes()
    bad = {"type": "chat", "api_base_url": "not a url", "colour": "red"}
    status, body, _ = await admin.call("PUT", "/providers/bad", bad)
    assert (status, body["error"]["type"]) == (400, "invalid_config")
    paths = {p["path"] for p in body["error"]["problems"]}
    assert any(path.startswith("providers.bad") for path in paths), paths
    status, body, _ = await admin.call("PUT", "/aliases/broken", {"targets": "nope"})
    assert status == 400
    status, body, _ = await admin.call("PUT", "/aliases/broken", ["not", "a", "mapping"])
    assert (status, body["error"]["type"]) == (400, "bad_request")
    assert admin.path.read_bytes() == before


async def test_delete_a_provider_an_alias_uses_is_refused(admin: Admin) -> None:
    before = admin.path.read_bytes()
    status, body, _ = await admin.call("DELETE", "/providers/mock-chat")
    assert (status, body["error"]["type"]) == (400, "invalid_config")
    assert body["error"]["problems"]
    assert admin.path.read_bytes() == before


async def test_delete_an_alias_then_its_provider(admin: Admin) -> None:
    status, written, _ = await admin.call("DELETE", "/aliases/chat-model")
    assert status == 200 and written["applied"] is True
    status, _, _ = await admin.call("DELETE", "/providers/mock-chat")
    assert status == 200
    assert "mock-chat" not in admin.gateway.config.providers
    assert "# The test gateway's config" in admin.path.read_text()
    before = admin.path.read_bytes()
    status, body, _ = await admin.call("DELETE", "/aliases/chat-model")
    assert (status, body["error"]["type"]) == (404, "not_found")
    assert admin.path.read_bytes() == before


async def test_a_stale_if_match_on_an_entry(admin: Admin) -> None:
    _, body, response = await admin.call("GET", "/aliases/chat-model")
    await admin.call("DELETE", "/aliases/messages-model")
    before = admin.path.read_bytes()
    headers = admin.headers(**{"If-Match": response.headers["ETag"]})
    status, answer, _ = await admin.call("PUT", "/aliases/chat-model", body, headers)
    assert (status, answer["error"]["type"]) == (412, "precondition_failed")
    assert admin.path.read_bytes() == before
