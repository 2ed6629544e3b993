"""CORS for browser clients (cors.py): preflights answered for the API's routes, answers
readable from the origins allowed, and nothing allowed by default while the API is open."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.conftest import Upstreams, run_gateway

KEYS = {"keys": {"web": {"secret": "sk-web"}}}
CHAT = {"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]}
PREFLIGHT = {
    "origin": "https://chat.example",
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type, x-stainless-os",
}


async def _preflight(url: str, path: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
    async with (
        aiohttp.ClientSession() as session,
        session.options(url + path, headers=headers) as r,
    ):
        await r.read()
        return r


async def _post(url: str, origin: str, **extra: Any) -> aiohttp.ClientResponse:
    headers = {"origin": origin, "authorization": "Bearer sk-web"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/v1/chat/completions", json=CHAT, headers=headers, **extra) as r,
    ):
        await r.read()
        return r


async def test_with_keys_any_origin_may_call_the_api(upstreams: Upstreams) -> None:
    async with run_gateway(upstreams.config(KEYS)) as url:
        preflight = await _preflight(url, "/v1/chat/completions", PREFLIGHT)
        answer = await _post(url, "https://chat.example")
    # Answered without a key (a preflight carries none), with nothing in its body.
    assert preflight.status == 204
    assert "content-length" not in preflight.headers
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    # Echoed: a wildcard would not cover `authorization`.
    assert (
        preflight.headers["access-control-allow-headers"]
        == PREFLIGHT["access-control-request-headers"]
    )
    assert "access-control-allow-credentials" not in preflight.headers
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-expose-headers"] == "*"  # x-request-id among them


async def test_an_error_answer_is_readable_too(upstreams: Upstreams) -> None:
    async with run_gateway(upstreams.config(KEYS)) as url, aiohttp.ClientSession() as session:
        headers = {"origin": "https://chat.example", "authorization": "Bearer wrong"}
        async with session.post(url + "/v1/chat/completions", json=CHAT, headers=headers) as r:
            assert r.status == 401
            assert r.headers["access-control-allow-origin"] == "*"


async def test_an_open_api_allows_no_origin_by_default(upstreams: Upstreams) -> None:
    async with run_gateway(upstreams.config()) as url:
        preflight = await _preflight(url, "/v1/chat/completions", PREFLIGHT)
        async with aiohttp.ClientSession() as session:
            post = session.post(url + "/v1/chat/completions", json=CHAT, headers=PREFLIGHT)
            async with post as answer:
                assert answer.status == 200
                assert "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-origin" not in preflight.headers


async def test_a_list_of_origins_allows_those_only(upstreams: Upstreams) -> None:
    config = upstreams.config({**KEYS, "server": {"cors_origins": ["https://Chat.example/"]}})
    async with run_gateway(config) as url:
        allowed = await _preflight(url, "/v1/chat/completions", PREFLIGHT)
        other = await _preflight(
            url, "/v1/chat/completions", {**PREFLIGHT, "origin": "https://evil.example"}
        )
        answer = await _post(url, "https://chat.example")
        refused = await _post(url, "https://evil.example")
    assert allowed.status == 204
    assert allowed.headers["access-control-allow-origin"] == "https://chat.example"
    assert "origin" in allowed.headers["vary"]
    assert "access-control-allow-origin" not in other.headers
    assert answer.headers["access-control-allow-origin"] == "https://chat.example"
    assert answer.headers["vary"] == "origin"
    assert "access-control-allow-origin" not in refused.headers


async def test_every_protocols_route_is_preflighted(upstreams: Upstreams) -> None:
    paths = [
        ("POST", "/v1/messages"),
        ("POST", "/v1/responses"),
        ("POST", "/v1beta/models/gemini-model:streamGenerateContent"),
        ("POST", "/v1/embeddings"),
        ("GET", "/v1/models"),
    ]
    async with run_gateway(upstreams.config(KEYS)) as url:
        for method, path in paths:
            asked = {**PREFLIGHT, "access-control-request-method": method}
            answer = await _preflight(url, path, asked)
            assert answer.status == 204, path
            assert answer.headers["access-control-allow-origin"] == "*", path


async def test_the_admin_api_and_unknown_paths_are_not_preflighted(upstreams: Upstreams) -> None:
    async with run_gateway(upstreams.config(KEYS)) as url:
        admin = await _preflight(url, "/v0/admin/keys", PREFLIGHT)
        unknown = await _preflight(url, "/v1/nothing", PREFLIGHT)
    for answer in (admin, unknown):
        assert answer.status == 404
        assert "access-control-allow-origin" not in answer.headers
