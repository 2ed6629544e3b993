"""Failover, cooldowns, concurrency limits, keep-alive pings, idle timeouts (issue 4)."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web

from plexus.health import Health
from tests.conftest import Upstreams, extra_mock, run_gateway, serve_app
from tests.mocks.base import MockState, Reply


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def chat(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)


def alias_config(upstreams: Upstreams, providers: dict[str, Any], selector: str) -> Any:
    targets = [{"provider": name, "model": f"m-{name}"} for name in providers]
    return upstreams.config(
        {"providers": providers, "models": {"multi": {"selector": selector, "targets": targets}}}
    )


HI: Any = [{"role": "user", "content": "hi"}]


async def test_unreachable_target_fails_over(upstreams: Upstreams) -> None:
    providers = {
        "dead": {"type": "chat", "api_base_url": f"http://127.0.0.1:{free_port()}/v1"},
        "alive": {
            "type": "messages",
            "api_base_url": upstreams.base_url("messages"),
            "api_key": "upstream-key",
        },
    }
    async with run_gateway(alias_config(upstreams, providers, "in_order")) as url:
        completion = await chat(url).chat.completions.create(model="multi", messages=HI)
    assert completion.choices[0].message.content == "Hello from the mock."
    assert upstreams.states["messages"].received[-1].body["model"] == "m-alive"


@pytest.mark.parametrize("status", [500, 429, 503])
async def test_server_errors_fail_over_and_cool_down(upstreams: Upstreams, status: int) -> None:
    failing = MockState(reply=Reply(error_status=status, error_message="down"))
    async with extra_mock("chat", failing) as failing_url:
        providers = {
            "first": {"type": "chat", "api_base_url": failing_url, "api_key": "upstream-key"},
            "second": {
                "type": "chat",
                "api_base_url": upstreams.base_url("chat"),
                "api_key": "upstream-key",
            },
        }
        async with run_gateway(alias_config(upstreams, providers, "in_order")) as url:
            for _ in range(3):
                completion = await chat(url).chat.completions.create(model="multi", messages=HI)
                assert completion.choices[0].message.content == "Hello from the mock."
    # The failing target was tried once, then skipped while it cooled down.
    assert len(failing.received) == 1
    assert len(upstreams.states["chat"].received) == 3


async def test_client_errors_are_not_retried(upstreams: Upstreams) -> None:
    failing = MockState(reply=Reply(error_status=400, error_message="your request is bad"))
    async with extra_mock("chat", failing) as failing_url:
        providers = {
            "first": {"type": "chat", "api_base_url": failing_url, "api_key": "upstream-key"},
            "second": {
                "type": "chat",
                "api_base_url": upstreams.base_url("chat"),
                "api_key": "upstream-key",
            },
        }
        async with run_gateway(alias_config(upstreams, providers, "in_order")) as url:
            with pytest.raises(openai.BadRequestError, match="your request is bad"):
                await chat(url).chat.completions.create(model="multi", messages=HI)
    assert upstreams.states["chat"].received == []


async def test_every_target_failing_gives_the_most_useful_error(upstreams: Upstreams) -> None:
    limited = MockState(reply=Reply(error_status=429, error_message="slow down"))
    async with extra_mock("messages", limited) as limited_url:
        providers = {
            "dead": {"type": "chat", "api_base_url": f"http://127.0.0.1:{free_port()}/v1"},
            "limited": {"type": "messages", "api_base_url": limited_url, "api_key": "upstream-key"},
        }
        async with run_gateway(alias_config(upstreams, providers, "in_order")) as url:
            client = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
            with pytest.raises(anthropic.RateLimitError, match="slow down"):
                await client.messages.create(model="multi", max_tokens=5, messages=HI)


def test_cooldown_grows_honours_retry_after_and_resets() -> None:
    health = Health()
    key = ("p", "m")
    health.failed(key)
    assert health.cooling(key)
    health.failed(key, retry_after=120)
    target = health._targets[key]
    # approx: `now + 120 - now` is not exactly 120 in floating point at every clock value
    assert target.cool_until - target.last_failure == pytest.approx(120)
    health.succeeded(key, 0.2)
    assert not health.cooling(key)
    assert health._targets[key].failures == 0


async def test_all_cooling_tries_least_recently_failed_first(upstreams: Upstreams) -> None:
    from plexus.routing import Router

    providers = {
        "a": {"type": "chat", "api_base_url": "http://a/v1"},
        "b": {"type": "chat", "api_base_url": "http://b/v1"},
    }
    router = Router(alias_config(upstreams, providers, "in_order"))
    router.health.failed(("b", "m-b"))
    await asyncio.sleep(0.01)
    router.health.failed(("a", "m-a"))
    assert [t.provider_name for t in router.resolve("multi")] == ["b", "a"]


def test_latency_selector_prefers_fast_but_explores() -> None:
    health = Health()
    health.succeeded(("fast", "m"), 0.05)
    health.succeeded(("slow", "m"), 0.5)
    rng = random.Random(1)
    picks = [health.pick_fastest([("slow", "m"), ("fast", "m")], rng) for _ in range(1000)]
    assert 0.85 < picks.count(1) / 1000 < 0.99


@pytest.fixture
async def slow_chat() -> AsyncIterator[str]:
    """A chat upstream that stays silent for 0.6 s before answering (streamed or not)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        chunk = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "late"},
                    "finish_reason": None,
                }
            ],
        }
        if not body.get("stream"):
            await asyncio.sleep(0.6)
            message = {"role": "assistant", "content": "late"}
            return web.json_response(
                {
                    "id": "c",
                    "object": "chat.completion",
                    "created": 1,
                    "model": "m",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                }
            )
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(0.6)
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        chunk["choices"] = [{"index": 0, "delta": {}, "finish_reason": "stop"}]
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    async with serve_app(app) as url:
        yield url + "/v1"


async def test_concurrency_limit_answers_429(upstreams: Upstreams, slow_chat: str) -> None:
    provider = {"type": "chat", "api_base_url": slow_chat, "max_concurrency": 1, "models": ["m"]}
    async with run_gateway(upstreams.config({"providers": {"slow": provider}})) as url:
        client = chat(url)
        results = await asyncio.gather(
            *(client.chat.completions.create(model="slow/m", messages=HI) for _ in range(2)),
            return_exceptions=True,
        )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], openai.RateLimitError)


async def stream_text(url: str, path: str, body: dict[str, Any]) -> str:
    async with aiohttp.ClientSession() as session, session.post(url + path, json=body) as response:
        assert response.status == 200
        return (await response.read()).decode()


@pytest.mark.parametrize(
    ("path", "ping"),
    [("/v1/messages", 'event: ping\ndata: {"type": "ping"}'), ("/v1/chat/completions", ": ping")],
)
async def test_silent_upstream_gets_keepalive_pings(
    upstreams: Upstreams, slow_chat: str, path: str, ping: str
) -> None:
    provider = {
        "type": "chat",
        "api_base_url": slow_chat,
        "timeouts": {"ping": 0.2},
        "models": ["m"],
    }
    async with run_gateway(upstreams.config({"providers": {"slow": provider}})) as url:
        body = {"model": "slow/m", "max_tokens": 10, "stream": True, "messages": HI}
        text = await stream_text(url, path, body)
    assert text.count(ping) >= 2
    assert "late" in text


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
async def test_idle_stream_ends_with_the_protocols_error(
    upstreams: Upstreams, slow_chat: str, path: str
) -> None:
    provider = {
        "type": "chat",
        "api_base_url": slow_chat,
        "timeouts": {"idle": 0.2, "ping": 0.1},
        "models": ["m"],
    }
    async with run_gateway(upstreams.config({"providers": {"slow": provider}})) as url:
        body = {"model": "slow/m", "max_tokens": 10, "stream": True, "messages": HI}
        text = await stream_text(url, path, body)
    if path == "/v1/messages":
        assert "event: error" in text and "message_stop" not in text
    else:
        assert '"error"' in text
    assert "late" not in text


async def test_gemini_clients_get_pings_their_sdk_accepts(
    upstreams: Upstreams, slow_chat: str
) -> None:
    # google-genai parses every non-data line as JSON: an SSE comment there breaks the stream.
    from google import genai
    from google.genai import types as gtypes

    provider = {
        "type": "chat",
        "api_base_url": slow_chat,
        "timeouts": {"ping": 0.2},
        "models": ["m"],
    }
    async with run_gateway(upstreams.config({"providers": {"slow": provider}})) as url:
        client = genai.Client(
            api_key="k", http_options=gtypes.HttpOptions(base_url=url, api_version="v1beta")
        )
        chunks = await client.aio.models.generate_content_stream(model="slow/m", contents="hi")
        text = "".join([chunk.text or "" async for chunk in chunks])
    assert text == "late"


@pytest.fixture
async def half_event_chat() -> AsyncIterator[str]:
    """A chat upstream that sends half an event, goes quiet, then sends the rest."""

    async def handler(request: web.Request) -> web.StreamResponse:
        chunk = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "whole"}, "finish_reason": None}],
        }
        frame = b"data: " + json.dumps(chunk).encode() + b"\n\n"
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(frame[:20])
        await asyncio.sleep(0.5)
        await response.write(frame[20:] + b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    async with serve_app(app) as url:
        yield url + "/v1"


async def test_passthrough_pings_never_split_an_event(
    upstreams: Upstreams, half_event_chat: str
) -> None:
    provider = {
        "type": "chat",
        "api_base_url": half_event_chat,
        "timeouts": {"ping": 0.1},
        "models": ["m"],
    }
    async with run_gateway(upstreams.config({"providers": {"half": provider}})) as url:
        stream = await chat(url).chat.completions.create(model="half/m", messages=HI, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "whole"
