"""`POST /v1/completions` through the official openai SDK (issue 11): legacy text completions
with fill-in-the-middle `suffix`, passed through to chat providers that opt in, streamed and
not, usage logged; refused for every other target."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import openai
import pytest
import structlog.testing

from tests.conftest import Upstreams, extra_mock, run_gateway
from tests.mocks.base import MockState, Reply

PROMPT = "def add(a, b):\n    "
SUFFIX = "\n\nprint(add(1, 2))\n"


def client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)


def completing(base_url: str) -> dict[str, Any]:
    return {
        "type": "chat",
        "api_base_url": base_url,
        "api_key": "upstream-key",
        "completions": True,
    }


@pytest.fixture
async def url(upstreams: Upstreams) -> AsyncIterator[str]:
    config = upstreams.config({"providers": {"mock-chat": completing(upstreams.base_url("chat"))}})
    async with run_gateway(config) as base:
        yield base


def request_line(logs: list[MutableMapping[str, Any]]) -> MutableMapping[str, Any]:
    (line,) = [entry for entry in logs if entry["event"] == "request"]
    return line


async def test_a_completion_with_suffix_passes_through(url: str, upstreams: Upstreams) -> None:
    upstreams.states["chat"].reply = Reply(text="return a + b", output_tokens=4)
    with structlog.testing.capture_logs() as logs:
        completion = await client(url).completions.create(
            model="chat-model", prompt=PROMPT, suffix=SUFFIX, max_tokens=32, temperature=0
        )
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "return a + b"
    received = upstreams.states["chat"].received[-1]
    assert received.path == "/v1/completions"
    assert received.body == {
        "model": "up-chat",
        "prompt": PROMPT,
        "suffix": SUFFIX,
        "max_tokens": 32,
        "temperature": 0,
    }
    line = request_line(logs)
    assert line["operation"] == "completions" and line["stream"] is False
    assert line["usage"]["input_tokens"] == 11 and line["usage"]["output_tokens"] == 4


async def test_a_streamed_completion_is_relayed_to_done(url: str, upstreams: Upstreams) -> None:
    upstreams.states["chat"].reply = Reply(text="return a + b", output_tokens=4)
    with structlog.testing.capture_logs() as logs:
        stream = await client(url).completions.create(
            model="chat-model",
            prompt=PROMPT,
            suffix=SUFFIX,
            stream=True,
            stream_options={"include_usage": True},
        )
        text, finish = "", None
        async for chunk in stream:
            for choice in chunk.choices:
                text += choice.text
                finish = choice.finish_reason or finish
    assert (text, finish) == ("return a + b", "stop")
    line = request_line(logs)
    assert line["stream"] is True and line["usage"]["output_tokens"] == 4


async def test_the_raw_stream_ends_with_done(url: str) -> None:
    async with client(url).completions.with_streaming_response.create(
        model="chat-model", prompt="x", stream=True
    ) as response:
        body = b"".join([chunk async for chunk in response.iter_bytes()])
    assert body.endswith(b"data: [DONE]\n\n")
    assert body.count(b'"object": "text_completion"') >= 2


async def test_an_upstream_refusal_reaches_the_client(url: str) -> None:
    with pytest.raises(openai.BadRequestError, match="temperature"):
        await client(url).completions.create(model="chat-model", prompt="x", temperature=5)


async def test_a_chat_provider_without_the_flag_is_refused(
    gateway: str, upstreams: Upstreams
) -> None:
    with pytest.raises(openai.BadRequestError, match="cannot do text completions") as caught:
        await client(gateway).completions.create(model="chat-model", prompt="x")
    assert caught.value.type == "invalid_request_error"
    assert "completions: true" in caught.value.message
    assert upstreams.states["chat"].received == []


@pytest.mark.parametrize("api", ["messages", "responses", "gemini"])
async def test_other_provider_types_are_refused(url: str, upstreams: Upstreams, api: str) -> None:
    with pytest.raises(openai.BadRequestError, match=f"'{api}-model' cannot do text completions"):
        await client(url).completions.create(model=f"{api}-model", prompt="x")
    assert upstreams.states[api].received == []


async def test_an_alias_fails_over_between_two_completion_servers(upstreams: Upstreams) -> None:
    failing = MockState(reply=Reply(error_status=503, error_message="loading model"))
    async with extra_mock("chat", failing) as failing_url:
        providers = {
            "loading": completing(failing_url),
            "ready": completing(upstreams.base_url("chat")),
        }
        targets = [{"provider": name, "model": f"m-{name}"} for name in providers]
        alias = {"coder": {"selector": "in_order", "targets": targets}}
        async with run_gateway(upstreams.config({"providers": providers, "models": alias})) as url:
            completion = await client(url).completions.create(model="coder", prompt="x")
    assert completion.choices[0].text == "Hello from the mock."
    assert len(failing.received) == 1
    assert upstreams.states["chat"].received[-1].body["model"] == "m-ready"
