"""A client that goes away mid-stream makes the gateway drop the upstream request."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import Upstreams, run_gateway, serve_app

HI: Any = [{"role": "user", "content": "hi"}]


@dataclass
class SlowStream:
    url: str
    sent: int = 0
    aborted: asyncio.Event | None = None


@pytest.fixture
async def slow_stream() -> AsyncIterator[SlowStream]:
    state = SlowStream("", aborted=asyncio.Event())

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "tick "}, "finish_reason": None}],
        }
        try:
            for _ in range(500):
                await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                state.sent += 1
                await asyncio.sleep(0.01)
        except (ConnectionResetError, asyncio.CancelledError):
            assert state.aborted is not None
            state.aborted.set()
            raise
        return response

    app = web.Application(handler_args={"handler_cancellation": True})
    app.router.add_post("/v1/chat/completions", handler)
    async with serve_app(app) as url:
        state.url = url + "/v1"
        yield state


@pytest.mark.parametrize("client_api", ["chat", "messages"])
async def test_client_disconnect_cancels_upstream(
    upstreams: Upstreams, slow_stream: SlowStream, client_api: str
) -> None:
    provider = {"type": "chat", "api_base_url": slow_stream.url, "api_key": "k", "models": ["m"]}
    config = upstreams.config({"providers": {"slow": provider}})
    path = "/v1/chat/completions" if client_api == "chat" else "/v1/messages"
    body = {
        "model": "slow/m",
        "stream": True,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with run_gateway(config) as url, aiohttp.ClientSession() as session:
        response = await session.post(url + path, json=body)
        assert response.status == 200
        await response.content.readany()
        response.close()  # the client goes away mid-stream
        assert slow_stream.aborted is not None
        await asyncio.wait_for(slow_stream.aborted.wait(), timeout=3)
    assert slow_stream.sent < 400


@pytest.fixture
async def slow_answer() -> AsyncIterator[SlowStream]:
    """A chat upstream that takes 5 s to answer a non-streamed request."""
    state = SlowStream("", aborted=asyncio.Event())

    async def handler(request: web.Request) -> web.Response:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            assert state.aborted is not None
            state.aborted.set()
            raise
        return web.json_response({})

    app = web.Application(handler_args={"handler_cancellation": True})
    app.router.add_post("/v1/chat/completions", handler)
    async with serve_app(app) as url:
        state.url = url + "/v1"
        yield state


@pytest.mark.parametrize("client_api", ["chat", "messages"])
async def test_client_disconnect_cancels_a_non_streamed_call(
    upstreams: Upstreams,
    slow_answer: SlowStream,
    client_api: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = {"type": "chat", "api_base_url": slow_answer.url, "api_key": "k", "models": ["m"]}
    config = upstreams.config({"providers": {"slow": provider}})
    path = "/v1/chat/completions" if client_api == "chat" else "/v1/messages"
    body = {"model": "slow/m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    async with run_gateway(config) as url, aiohttp.ClientSession() as session:
        with pytest.raises(TimeoutError):
            async with session.post(url + path, json=body, timeout=aiohttp.ClientTimeout(0.3)):
                pass
        assert slow_answer.aborted is not None
        await asyncio.wait_for(slow_answer.aborted.wait(), timeout=3)
    # The gateway's own cancellation is not an application error.
    assert "Exception in ASGI application" not in caplog.text


@pytest.mark.parametrize("client_api", ["chat", "messages"])
async def test_a_stream_the_client_cut_is_estimated_from_what_went_out(
    upstreams: Upstreams, slow_stream: SlowStream, client_api: str, data_dir: Path
) -> None:
    # No usage event comes to a stream the client left, but the provider bills what it
    # generated: the row estimates the output from the content sent, and says it is estimated.
    provider = {"type": "chat", "api_base_url": slow_stream.url, "api_key": "k", "models": ["m"]}
    config = upstreams.config({"providers": {"slow": provider}})
    path = "/v1/chat/completions" if client_api == "chat" else "/v1/messages"
    body = {"model": "slow/m", "stream": True, "max_tokens": 100, "messages": HI}
    async with run_gateway(config) as url, aiohttp.ClientSession() as session:
        response = await session.post(url + path, json=body)
        received = b""
        while received.count(b"tick") < 40:
            received += await response.content.readany()
        response.close()
        assert slow_stream.aborted is not None
        await asyncio.wait_for(slow_stream.aborted.wait(), timeout=3)
    with sqlite3.connect(data_dir / "usage.db") as db:
        estimated, output = db.execute(
            "SELECT tokens_estimated, output_tokens FROM requests"
        ).fetchone()
    least, most = received.count(b"tick") * 5 / 4, slow_stream.sent * 5 / 4  # "tick " each
    assert estimated == 1 and 0.7 * least <= output <= 1.3 * most


async def test_the_server_tells_of_a_disconnect_without_a_watching_task(
    upstreams: Upstreams, slow_stream: SlowStream
) -> None:
    # A task per request waiting on receive() for `http.disconnect` cost a fifth of a worker's
    # time per request: the server's hook tells instead, and no such task exists.
    provider = {"type": "chat", "api_base_url": slow_stream.url, "api_key": "k", "models": ["m"]}
    config = upstreams.config({"providers": {"slow": provider}})
    body = {"model": "slow/m", "stream": True, "messages": HI}
    async with run_gateway(config) as url, aiohttp.ClientSession() as session:
        response = await session.post(url + "/v1/chat/completions", json=body)
        await response.content.readany()
        watchers = [
            task
            for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__qualname__", "") == "CancelOnDisconnect._watch"
        ]
        response.close()
        assert slow_stream.aborted is not None
        await asyncio.wait_for(slow_stream.aborted.wait(), timeout=3)
    assert watchers == []


async def test_a_disconnect_cancels_the_request_answered_while_others_are_pipelined(
    upstreams: Upstreams, slow_stream: SlowStream
) -> None:
    # Pipelined requests are answered in order: the one being answered when the client goes
    # is cancelled, though the server has parsed the next one since.
    provider = {"type": "chat", "api_base_url": slow_stream.url, "api_key": "k", "models": ["m"]}
    config = upstreams.config({"providers": {"slow": provider}})
    body = json.dumps({"model": "slow/m", "stream": True, "messages": HI}).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    async with run_gateway(config) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request + request)
        await reader.readuntil(b"tick")  # the first answer is streaming
        writer.close()
        assert slow_stream.aborted is not None
        await asyncio.wait_for(slow_stream.aborted.wait(), timeout=3)
    assert slow_stream.sent < 400
