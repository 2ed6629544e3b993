"""Upstream error answers as clients of every API need them (issue 11 bugs 2 and 3)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest
from aiohttp import web
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from plexus.app import Gateway
from tests.conftest import Upstreams, run_gateway, serve_app

RETRY_INFO = {
    "@type": "type.googleapis.com/google.rpc.RetryInfo",
    "retryDelay": "7s",
}
QUOTA = {
    "error": {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
            RETRY_INFO,
        ],
    }
}


@pytest.fixture
async def exhausted_gemini() -> AsyncIterator[str]:
    """A Gemini upstream out of quota: its delay is only in the body's RetryInfo."""

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(QUOTA, status=429)

    app = web.Application()
    app.router.add_post("/v1beta/models/{tail:.*}", answer)
    async with serve_app(app) as url:
        yield url + "/v1beta"


async def test_a_bad_gemini_key_is_an_authentication_error_for_other_clients(
    upstreams: Upstreams,
) -> None:
    # Gemini answers a bad key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
    wrong = {"type": "gemini", "api_base_url": upstreams.base_url("gemini"), "api_key": "bad"}
    config = upstreams.config({"providers": {"mock-gemini": wrong}})
    hi: Any = [{"role": "user", "content": "hi"}]
    async with run_gateway(config) as url:
        chat = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            await chat.chat.completions.create(model="gemini-model", messages=hi)
        claude = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            await claude.messages.create(model="gemini-model", max_tokens=5, messages=hi)
        with pytest.raises(openai.AuthenticationError):
            await chat.responses.create(model="gemini-model", input="hi")


def _exhausted_config(upstreams: Upstreams, base_url: str) -> Any:
    provider = {"type": "gemini", "api_base_url": base_url, "api_key": "k", "models": ["g"]}
    return upstreams.config({"providers": {"quota": provider}})


async def test_a_gemini_retry_delay_becomes_retry_after_and_the_cooldown(
    upstreams: Upstreams, exhausted_gemini: str
) -> None:
    gateway = Gateway(_exhausted_config(upstreams, exhausted_gemini))
    async with run_gateway(gateway.config, gateway) as url:
        chat = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.RateLimitError) as caught:
            await chat.chat.completions.create(
                model="quota/g", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.response.headers["retry-after"] == "7"
    assert gateway.health.cooling(("quota", "g"))
    assert gateway.health.cooling_until(("quota", "g")) >= time.monotonic() + 6


async def test_a_gemini_client_keeps_the_errors_details(
    upstreams: Upstreams, exhausted_gemini: str
) -> None:
    async with run_gateway(_exhausted_config(upstreams, exhausted_gemini)) as url:
        client = genai.Client(
            api_key="k", http_options=gtypes.HttpOptions(base_url=url, api_version="v1beta")
        )
        with pytest.raises(genai_errors.ClientError) as caught:
            await client.aio.models.generate_content(model="quota/g", contents="hi")
    assert caught.value.code == 429
    assert RETRY_INFO in caught.value.details["error"]["details"]
