"""Every failure answered in the client's own API format with the right status."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web

from tests.conftest import Upstreams, run_gateway, serve_app

PATHS = {
    "chat": "/v1/chat/completions",
    "messages": "/v1/messages",
    "responses": "/v1/responses",
    "gemini": "/v1beta/models/gemini-model:generateContent",
}


def assert_error_shape(api: str, body: dict[str, Any]) -> str:
    """Check the protocol's error envelope; return the message."""
    if api == "messages":
        assert body["type"] == "error"
        assert isinstance(body["error"]["type"], str)
        message: str = body["error"]["message"]
        return message
    assert isinstance(body["error"], dict)
    if api == "gemini":
        assert isinstance(body["error"]["code"], int)
        assert isinstance(body["error"]["status"], str)
    else:
        assert "type" in body["error"]
    message = body["error"]["message"]
    return message


async def post(url: str, data: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers=headers or {}) as response,
    ):
        return response.status, await response.json(content_type=None)


@pytest.mark.parametrize("api", list(PATHS))
async def test_malformed_json_is_400(gateway: str, api: str) -> None:
    status, body = await post(gateway + PATHS[api], b'{"model": "chat-model", ')
    assert status == 400
    assert "JSON" in assert_error_shape(api, body)


@pytest.mark.parametrize("api", ["chat", "messages", "responses"])
async def test_wrong_model_type_is_400(gateway: str, api: str) -> None:
    status, body = await post(gateway + PATHS[api], b'{"model": 5, "messages": []}')
    assert status == 400
    assert_error_shape(api, body)


@pytest.mark.parametrize("api", ["chat", "messages", "responses"])
async def test_unknown_model_is_404(gateway: str, api: str) -> None:
    status, body = await post(gateway + PATHS[api], b'{"model": "nope", "messages": []}')
    assert status == 404
    assert "nope" in assert_error_shape(api, body)


async def test_unknown_model_through_the_sdks(gateway: str) -> None:
    with pytest.raises(openai.NotFoundError):
        await openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="k").chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(anthropic.NotFoundError):
        await anthropic.AsyncAnthropic(base_url=gateway, api_key="k").messages.create(
            model="nope", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )


async def test_unknown_route_is_404(gateway: str) -> None:
    status, body = await post(gateway + "/v1/nothing", b"{}")
    assert status == 404
    assert_error_shape("chat", body)
    # Issue 11: it said model_not_found, sending users looking for a model.
    assert body["error"]["code"] == "unknown_url" and "/v1/nothing" in body["error"]["message"]


async def test_body_over_the_limit_is_413(upstreams: Upstreams) -> None:
    config = upstreams.config({"server": {"max_body_bytes": 1000}})
    async with run_gateway(config) as url:
        status, body = await post(url + PATHS["messages"], b'{"model": "x", "p": "' + b"a" * 2000)
    assert status == 413
    assert body["error"]["type"] == "request_too_large"


@pytest.mark.parametrize("api", list(PATHS))
async def test_missing_gateway_key_is_401(upstreams: Upstreams, api: str) -> None:
    config = upstreams.config({"keys": {"alice": {"secret": "s3cret"}}})
    body = b'{"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]}'
    async with run_gateway(config) as url:
        status, answer = await post(url + PATHS[api], body)
        assert status == 401
        assert_error_shape(api, answer)
        status, _ = await post(url + PATHS[api], body, {"authorization": "Bearer wrong"})
        assert status == 401


async def test_gateway_key_forms_are_accepted(upstreams: Upstreams) -> None:
    config = upstreams.config({"keys": {"alice": {"secret": "s3cret"}}})
    async with run_gateway(config) as url:
        chat = openai.AsyncOpenAI(base_url=url + "/v1", api_key="s3cret", max_retries=0)
        completion = await chat.chat.completions.create(
            model="chat-model", messages=[{"role": "user", "content": "hi"}]
        )
        assert completion.choices[0].message.content
        claude = anthropic.AsyncAnthropic(base_url=url, api_key="s3cret", max_retries=0)
        message = await claude.messages.create(
            model="messages-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/v1/models?key=s3cret") as response:
                assert response.status == 200
            async with session.get(url + "/v1/models") as response:
                assert response.status == 401
        # The client's key must never reach the upstream.
        headers = upstreams.states["chat"].received[-1].headers
        assert {k.lower(): v for k, v in headers.items()}["authorization"] == "Bearer upstream-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_unreachable_upstream_is_502(upstreams: Upstreams) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    config = upstreams.config(
        {"providers": {"dead": {"type": "chat", "api_base_url": dead, "models": ["m"]}}}
    )
    async with run_gateway(config) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(
                model="dead/m", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.status_code == 502


@pytest.fixture
async def stalling_upstream() -> AsyncIterator[str]:
    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/messages", stall)
    async with serve_app(app) as url:
        yield url + "/v1"


async def test_upstream_timeout_is_504(upstreams: Upstreams, stalling_upstream: str) -> None:
    provider = {
        "type": "messages",
        "api_base_url": stalling_upstream,
        "api_key": "k",
        "models": ["m"],
    }
    provider["timeouts"] = {"first_byte": 0.3}  # type: ignore[assignment]
    config = upstreams.config({"providers": {"slow": provider}})
    async with run_gateway(config) as url:
        client = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as caught:
            await client.messages.create(
                model="slow/m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.status_code == 504
    assert caught.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]


async def test_missing_provider_key_names_the_variable(
    upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLEXUS_TEST_UNSET_KEY", raising=False)
    provider = {
        "type": "chat",
        "api_base_url": upstreams.base_url("chat"),
        "api_key": "${PLEXUS_TEST_UNSET_KEY}",
        "models": ["m"],
    }
    config = upstreams.config({"providers": {"nokey": provider}})
    async with run_gateway(config) as url:
        status, body = await post(
            url + PATHS["chat"],
            b'{"model": "nokey/m", "messages": [{"role":"user","content":"x"}]}',
        )
    assert status == 500
    assert "PLEXUS_TEST_UNSET_KEY" in assert_error_shape("chat", body)


async def test_models_and_health(gateway: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(gateway + "/health") as response:
            assert response.status == 200
        async with session.get(gateway + "/v1/models") as response:
            listing = await response.json()
    assert listing["object"] == "list"
    owners = {entry["id"]: entry["owned_by"] for entry in listing["data"]}
    assert owners["chat-model"] == "plexus"
    models = await openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="k").models.list()
    assert "messages-model" in [m.id for m in models.data]


async def test_models_in_each_sdks_format(gateway: str) -> None:
    openai_client = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="k")
    model = await openai_client.models.retrieve("chat-model")
    assert model.id == "chat-model" and model.owned_by == "plexus"
    with pytest.raises(openai.NotFoundError):
        await openai_client.models.retrieve("nope")
    claude = anthropic.AsyncAnthropic(base_url=gateway, api_key="k")
    page = await claude.models.list()
    assert "messages-model" in [m.id for m in page.data]
    assert (await claude.models.retrieve("gemini-model")).type == "model"


@pytest.mark.parametrize("api", list(PATHS))
async def test_json_nested_too_deeply_is_a_400_not_a_500(gateway: str, api: str) -> None:
    # Issue 10: ~1000 levels raised RecursionError, answered as a 500.
    model = {"gemini": ""}.get(api, f'"model": "{api}-model", ')
    deep = b"[" * 5000 + b"]" * 5000
    body = b'{%s"messages": [], "contents": [], "input": "x", "metadata": %s}' % (
        model.encode(),
        deep,
    )
    status, answer = await post(gateway + PATHS[api], body)
    assert status == 400
    assert "nested too deeply" in json.dumps(answer)


async def test_a_gemini_model_name_is_decoded_once(gateway: str, upstreams: Upstreams) -> None:
    # Issue 10: `%252F` reached the router as `/` (decoded by the server, then again).
    status, answer = await post(
        gateway + "/v1beta/models/gemini%252Fmodel:generateContent", b'{"contents": []}'
    )
    assert status == 404 and "gemini%2Fmodel" in json.dumps(answer)
