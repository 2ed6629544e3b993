"""Configured secrets never leave the gateway: not in relayed errors, not in the log (issue 10)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import openai
import pytest
import structlog
from aiohttp import web

from plexus.config import parse_config
from plexus.redact import MASK, Redactor
from tests.conftest import run_gateway, serve_app

PROVIDER_KEY = "sk-provider-secret-0123456789"
HEADER_TOKEN = "tok-custom-header-abcdefgh"


@pytest.fixture
async def echoing_upstream() -> AsyncIterator[str]:
    """An upstream (or a proxy before it) that echoes the request's headers in its errors."""

    async def echo(request: web.Request) -> web.Response:
        headers = dict(request.headers)
        body = {"error": {"message": f"bad request, you sent {json.dumps(headers)}"}}
        return web.json_response(body, status=400)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", echo)
    app.router.add_post("/v1/messages", echo)
    async with serve_app(app) as url:
        yield url + "/v1"


def _config(base_url: str) -> dict[str, object]:
    provider = {"api_base_url": base_url, "api_key": PROVIDER_KEY}
    headers = {"x-custom-auth": HEADER_TOKEN}
    return {
        "providers": {
            "same": {"type": "chat", **provider, "headers": headers},
            "other": {"type": "messages", **provider, "headers": headers},
        },
        "models": {
            "passed": {"targets": [{"provider": "same", "model": "m"}]},
            "translated": {"targets": [{"provider": "other", "model": "m"}]},
        },
    }


@pytest.mark.parametrize("model", ["passed", "translated"])
async def test_an_echoed_provider_key_is_masked_for_the_client_and_the_log(
    echoing_upstream: str, model: str
) -> None:
    async with run_gateway(parse_config(_config(echoing_upstream))) as gateway:
        client = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="k", max_retries=0)
        with (
            structlog.testing.capture_logs() as logs,
            pytest.raises(openai.BadRequestError) as caught,
        ):
            await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
    seen = caught.value.response.text + json.dumps(logs, default=str)
    assert PROVIDER_KEY not in seen and HEADER_TOKEN not in seen
    assert MASK in caught.value.response.text


def test_redactor_masks_longest_first_and_ignores_short_values() -> None:
    redactor = Redactor(["abcdefgh", "abcdefgh-longer", "short"])
    assert redactor.text("x abcdefgh-longer y abcdefgh short") == f"x {MASK} y {MASK} short"
    assert redactor.bytes(b"abcdefgh") == MASK.encode()
