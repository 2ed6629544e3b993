"""Keys end to end through the official SDKs: the allowlist (403, the model list), expired and
disabled keys (401), the rpm limit's 429 with OpenAI's headers in every client's format, and
`GET /v0/self`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from plexus.app import Gateway
from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply

HI: Any = [{"role": "user", "content": "hi"}]


def _keys(**keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": {name: {"secret": f"sk-{name}", **key} for name, key in keys.items()}}


async def test_a_model_outside_the_allowlist_is_403_and_unlisted(upstreams: Upstreams) -> None:
    config = upstreams.config(_keys(alice={"models": ["chat-model", "gemini-*"]}, bob={}))
    async with run_gateway(config) as url:
        alice = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-alice", max_retries=0)
        await alice.chat.completions.create(model="chat-model", messages=HI)
        await alice.chat.completions.create(model="gemini-model", messages=HI)
        with pytest.raises(openai.PermissionDeniedError, match="may not use the model"):
            await alice.chat.completions.create(model="messages-model", messages=HI)
        claude = anthropic.AsyncAnthropic(base_url=url, api_key="sk-alice", max_retries=0)
        with pytest.raises(anthropic.PermissionDeniedError):
            await claude.messages.create(model="messages-model", max_tokens=5, messages=HI)
        listed = [model.id async for model in alice.models.list()]
        assert listed == ["chat-model", "gemini-model"]
        with pytest.raises(openai.NotFoundError):
            await alice.models.retrieve("messages-model")
        bob = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-bob", max_retries=0)
        assert len([model.id async for model in bob.models.list()]) == 4


@pytest.mark.parametrize(
    ("key", "message"),
    [({"disabled": True}, "is disabled"), ({"expires": "2020-01-01"}, "expired at 2020-01-01")],
)
async def test_disabled_or_expired_keys_are_401(
    upstreams: Upstreams, key: dict[str, Any], message: str
) -> None:
    async with run_gateway(upstreams.config(_keys(old=key))) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-old", max_retries=0)
        with pytest.raises(openai.AuthenticationError, match=message):
            await client.chat.completions.create(model="chat-model", messages=HI)
        claude = anthropic.AsyncAnthropic(base_url=url, api_key="sk-old", max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            await claude.messages.create(model="chat-model", max_tokens=5, messages=HI)


async def test_rpm_refusals_in_every_clients_format(upstreams: Upstreams) -> None:
    config = upstreams.config(_keys(alice={"rpm": 2}))
    gateway = Gateway(config)
    gateway.limiter.clock = lambda: 7200.5  # one window for the whole test
    async with run_gateway(config, gateway) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-alice", max_retries=0)
        remaining = []
        for _ in range(2):
            answer = await client.chat.completions.with_raw_response.create(
                model="chat-model", messages=HI
            )
            assert answer.headers["x-ratelimit-limit-requests"] == "2"
            remaining.append(answer.headers["x-ratelimit-remaining-requests"])
        assert remaining == ["1", "0"]
        with pytest.raises(openai.RateLimitError, match="Rate limit reached") as caught:
            await client.chat.completions.create(model="chat-model", messages=HI)
        headers = caught.value.response.headers
        assert headers["retry-after"] == "60"  # whole seconds, rounded up
        assert headers["retry-after-ms"] == "59500"
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert headers["x-ratelimit-reset-requests"] == "59.5s"
        assert caught.value.body["type"] == "rate_limit_error"  # type: ignore[index]
        with pytest.raises(openai.RateLimitError):
            await client.responses.create(model="chat-model", input="hi")
        claude = anthropic.AsyncAnthropic(base_url=url, api_key="sk-alice", max_retries=0)
        with pytest.raises(anthropic.RateLimitError) as refused:
            await claude.messages.create(model="chat-model", max_tokens=5, messages=HI)
        assert refused.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
        gemini = genai.Client(
            api_key="sk-alice",
            http_options=genai_types.HttpOptions(base_url=url, retry_options=None),
        )
        with pytest.raises(genai_errors.ClientError) as limited:
            await gemini.aio.models.generate_content(model="chat-model", contents="hi")
        assert limited.value.code == 429 and limited.value.status == "RESOURCE_EXHAUSTED"


async def test_openai_waits_for_retry_after_and_succeeds(upstreams: Upstreams) -> None:
    # 60 rpm over 1 s windows is one request a window: the second waits for the next one.
    config = upstreams.config({**_keys(alice={"rpm": 60}), "server": {"limit_window": 1}})
    async with run_gateway(config) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-alice", max_retries=2)
        # Windows start on whole seconds: begin just after one, so that both requests fall in
        # it (on a loaded machine the first could otherwise end a window and the second open
        # the next, and nothing would wait).
        await asyncio.sleep(1.02 - time.time() % 1)
        await client.chat.completions.create(model="chat-model", messages=HI)
        started = time.monotonic()
        answer = await client.chat.completions.with_raw_response.create(
            model="chat-model", messages=HI
        )
        waited = time.monotonic() - started
    assert answer.http_request.headers.get("x-stainless-retry-count") in ("1", "2")
    assert waited < 2.5  # retry-after-ms, not the SDK's own back-off guess
    assert len(upstreams.states["chat"].received) == 2


async def test_self_shows_limits_use_and_budget(upstreams: Upstreams) -> None:
    key = {
        "rpm": 10, "tpm": 5000, "max_parallel": 2, "expires": "2031-05-01",
        "budget": {"usd": 2, "period": "once"}, "models": ["chat-model"],
    }  # fmt: skip
    pricing = {"*": {"input": 1000, "output": 1000}}
    config = upstreams.config(
        {**_keys(alice=key, bob={}), "providers": {"mock-chat": _priced(upstreams, pricing)}}
    )
    async with run_gateway(config) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-alice", max_retries=0)
        await client.chat.completions.create(model="chat-model", messages=HI, max_tokens=50)
        async with aiohttp.ClientSession() as session:
            headers = {"authorization": "Bearer sk-alice"}
            async with session.get(url + "/v0/self", headers=headers) as answer:
                view = await answer.json()
            async with session.get(url + "/v0/self", headers={"x-api-key": "sk-bob"}) as answer:
                bob = await answer.json()
            async with session.get(url + "/v0/self") as answer:
                assert answer.status == 401
    limits = view.pop("limits")
    assert view == {
        "name": "alice",
        "models": ["chat-model"],
        "expires": "2031-05-01T00:00:00+00:00",
    }
    assert limits["rpm"] | {"resets_in_seconds": 0} == {
        "limit": 10, "used": 1, "remaining": 9, "resets_in_seconds": 0
    }  # fmt: skip
    assert limits["tpm"]["used"] == 18  # corrected to the mock's 11 + 7, not the estimate
    assert limits["max_parallel"] == {"limit": 2, "used": 0, "remaining": 2}
    assert limits["budget"] == {
        "usd": 2.0, "period": "once", "spent_usd": 0.018, "remaining_usd": 1.982,
        "resets_at": None,
    }  # fmt: skip
    assert bob == {"name": "bob", "models": None, "expires": None, "limits": {}}


def _priced(upstreams: Upstreams, pricing: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "chat",
        "api_base_url": upstreams.base_url("chat"),
        "api_key": "upstream-key",
        "pricing": pricing,
    }


async def test_a_stream_cut_before_its_usage_spends_the_reservation(upstreams: Upstreams) -> None:
    # Releasing the reservation of an answer whose usage never came made a stream cut just
    # before its end free: the provider bills it, so the estimate is spent instead.
    key = {"budget": {"usd": 2, "period": "once"}}
    pricing = {"*": {"input": 1000, "output": 1000}}  # 0.001 USD a token
    config = upstreams.config(
        {**_keys(alice=key), "providers": {"mock-chat": _priced(upstreams, pricing)}}
    )
    upstreams.states["chat"].reply = Reply(text="A long answer, cut short.", cut_after_events=2)
    async with run_gateway(config) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-alice", max_retries=0)
        stream = await client.chat.completions.create(
            model="chat-model", messages=HI, max_tokens=50, stream=True
        )
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
        async with (
            aiohttp.ClientSession() as session,
            session.get(url + "/v0/self", headers={"authorization": "Bearer sk-alice"}) as answer,
        ):
            budget = (await answer.json())["limits"]["budget"]
    assert budget["spent_usd"] > 50 * 0.001  # the input estimate and the 50 tokens allowed
