"""The Messages mock is realistic: the official anthropic SDK talks to it, streamed and not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import httpx2
import pytest
from aiohttp.test_utils import TestServer

from tests.mocks.base import MockState, Reply, ToolCall
from tests.mocks.messages_upstream import create_app

MODEL = "claude-sonnet-5"


@pytest.fixture
async def state_and_client() -> AsyncIterator[tuple[MockState, anthropic.AsyncAnthropic]]:
    state = MockState()
    async with TestServer(create_app(state)) as server:
        client = anthropic.AsyncAnthropic(
            api_key=state.api_key, base_url=str(server.make_url("")), max_retries=0
        )
        async with client:
            yield state, client


async def test_sdk_reads_plain_answer(
    state_and_client: tuple[MockState, anthropic.AsyncAnthropic],
) -> None:
    state, client = state_and_client
    state.reply = Reply(text="Hi there", input_tokens=20, cached_tokens=5)
    message = await client.messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "Hello"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "Hi there"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 15
    assert message.usage.cache_read_input_tokens == 5
    assert "anthropic-version" in state.received[0].headers


async def test_sdk_accumulates_stream_with_thinking_and_tools(
    state_and_client: tuple[MockState, anthropic.AsyncAnthropic],
) -> None:
    state, client = state_and_client
    state.reply = Reply(
        text="Let me check.",
        reasoning="The user wants weather.",
        signature="EqSig==",
        tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="toolu_1")],
    )
    async with client.messages.stream(
        model=MODEL,
        max_tokens=4096,
        thinking={"type": "adaptive"},
        tools=[{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}],
        messages=[{"role": "user", "content": "Weather?"}],
    ) as stream:
        message = await stream.get_final_message()
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "text", "tool_use"]
    thinking, _, tool = message.content
    assert thinking.type == "thinking" and thinking.signature == "EqSig=="
    assert tool.type == "tool_use" and tool.input == {"city": "Paris"}
    assert message.stop_reason == "tool_use"


async def test_mock_rejects_like_the_api(
    state_and_client: tuple[MockState, anthropic.AsyncAnthropic],
) -> None:
    _, client = state_and_client
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=[
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}],
                },
                {"role": "user", "content": "no result"},
            ],
        )
    assert "tool_result" in str(caught.value)
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=[{"role": "user", "content": "x"}],
            extra_body={"frequency_penalty": 1},
        )
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.create(
            model=MODEL,
            max_tokens=1000,
            thinking={"type": "enabled", "budget_tokens": 1000},
            messages=[{"role": "user", "content": "x"}],
        )


async def test_mock_error_status_and_cut_stream(
    state_and_client: tuple[MockState, anthropic.AsyncAnthropic],
) -> None:
    state, client = state_and_client
    state.replies = [Reply(error_status=529, error_message="Overloaded"), Reply(cut_after_events=3)]
    with pytest.raises(anthropic.APIStatusError) as caught:
        await client.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 529
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": "req_mock0001",
    }
    with pytest.raises(httpx2.RemoteProtocolError):
        async with client.messages.stream(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            await stream.get_final_message()


async def test_wrong_key_is_401(
    state_and_client: tuple[MockState, anthropic.AsyncAnthropic],
) -> None:
    _, client = state_and_client
    with pytest.raises(anthropic.AuthenticationError):
        await client.with_options(api_key="wrong").messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
