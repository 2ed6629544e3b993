"""A scriptable OpenAI-compatible vendor upstream, and a gateway in front of it.

Each adapter test scripts the answer in the vendor's documented shape (its reasoning field, its
usage extras, its SSE comments) and a `check` that answers 400 the way the vendor does when a
request carries something it rejects. The mock writes its own JSON, never Plexus's codecs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from aiohttp import web
from aiohttp.test_utils import TestServer

from plexus.config import parse_config
from tests.conftest import run_gateway

Check = Callable[[dict[str, Any]], str | None]


def _accept(body: dict[str, Any]) -> str | None:
    return None


@dataclass
class Vendor:
    """What the mock answers, and what it received."""

    completion: dict[str, Any] = field(default_factory=dict)
    frames: list[str] = field(default_factory=list)  # raw SSE text, sent one write each
    check: Check = _accept
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any]:
        """The last request body."""
        return self.received[-1]


def completion(
    message: dict[str, Any], usage: dict[str, Any], finish: str = "stop"
) -> dict[str, Any]:
    """A `chat.completion` with one choice."""
    return {
        "id": "cmpl-vendor",
        "object": "chat.completion",
        "created": 1760000000,
        "model": "vendor-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }


def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
    """One `data:` frame of a `chat.completion.chunk`."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": "cmpl-vendor", "object": "chat.completion.chunk", "created": 1760000000,
            "model": "vendor-model", "choices": choices, **extra}  # fmt: skip
    return f"data: {json.dumps(body)}\n\n"


def _app(vendor: Vendor) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        vendor.received.append(body)
        vendor.headers.append(dict(request.headers))
        problem = vendor.check(body)
        if problem is not None:
            error = {"message": problem, "type": "invalid_request_error", "code": None}
            return web.json_response({"error": error}, status=400)
        if not body.get("stream"):
            return web.json_response(vendor.completion)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for frame in [*vendor.frames, "data: [DONE]\n\n"]:
            await response.write(frame.encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    return app


@asynccontextmanager
async def gateway_for(
    vendor: Vendor, adapter: str | None, model: str = "vendor-model"
) -> AsyncIterator[str]:
    """Run the mock and a gateway sending model `m` to its `model` via `adapter`; yield its URL."""
    server = TestServer(_app(vendor), host="127.0.0.1")
    await server.start_server()
    provider: dict[str, Any] = {
        "type": "chat",
        "api_base_url": f"http://127.0.0.1:{server.port}/v1",
        "api_key": "vendor-key",
    }
    if adapter is not None:
        provider["adapter"] = adapter
    config = parse_config(
        {
            "providers": {"vendor": provider},
            "models": {"m": {"targets": [{"provider": "vendor", "model": model}]}},
        }
    )
    try:
        async with run_gateway(config) as url:
            yield url
    finally:
        await server.close()


def openai_client(url: str) -> openai.AsyncOpenAI:
    """An OpenAI SDK client of the gateway."""
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key="gw", max_retries=0)


def anthropic_client(url: str) -> anthropic.AsyncAnthropic:
    """An Anthropic SDK client of the gateway."""
    return anthropic.AsyncAnthropic(base_url=url, api_key="gw", max_retries=0)


WEATHER_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
