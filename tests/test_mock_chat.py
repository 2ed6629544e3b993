"""The Chat Completions mock upstream speaks well enough for the official openai SDK to parse it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer

from plexus import ir, sse
from plexus.protocols import chat
from tests.mocks.base import MockState, Reply, ToolCall
from tests.mocks.chat_upstream import create_app, served


@pytest.fixture
async def mock() -> AsyncIterator[tuple[MockState, openai.AsyncOpenAI]]:
    state = MockState()
    async with served(state) as client:
        yield state, client


_MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "user", "content": "Weather in Paris?"}
]
_TOOLS: list[openai.types.chat.ChatCompletionToolParam] = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]


async def test_sdk_parses_non_streamed_answer(mock: tuple[MockState, openai.AsyncOpenAI]) -> None:
    state, client = mock
    state.reply = Reply(text="Sunny.", reasoning="Think.", cached_tokens=4, reasoning_tokens=2)
    completion = await client.chat.completions.create(model="m", messages=_MESSAGES)
    assert completion.choices[0].message.content == "Sunny."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens == 11
    assert state.received[0].path == "/v1/chat/completions"


async def test_sdk_stream_helper_accumulates_tool_calls(
    mock: tuple[MockState, openai.AsyncOpenAI],
) -> None:
    state, client = mock
    state.reply = Reply(
        text="",
        reasoning="Need weather.",
        tool_calls=[
            ToolCall("get_weather", {"city": "Paris"}),
            ToolCall("get_weather", {"city": "Rome"}),
        ],
    )
    async with client.chat.completions.stream(
        model="m", messages=_MESSAGES, tools=_TOOLS, stream_options={"include_usage": True}
    ) as stream:
        final = await stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [call.function.arguments for call in calls] == ['{"city": "Paris"}', '{"city": "Rome"}']
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None and final.usage.completion_tokens == 7


async def test_sdk_raises_on_error_status(mock: tuple[MockState, openai.AsyncOpenAI]) -> None:
    state, client = mock
    state.reply = Reply(error_status=429, error_message="slow down")
    with pytest.raises(openai.RateLimitError, match="slow down"):
        await client.chat.completions.create(model="m", messages=_MESSAGES)


async def test_mock_rejects_unknown_field_and_bad_key(
    mock: tuple[MockState, openai.AsyncOpenAI],
) -> None:
    state, client = mock
    with pytest.raises(openai.BadRequestError, match="Unrecognized request argument"):
        await client.chat.completions.create(model="m", messages=_MESSAGES, extra_body={"top_k": 3})
    state.api_key = "other"
    with pytest.raises(openai.AuthenticationError):
        await client.chat.completions.create(model="m", messages=_MESSAGES)


async def test_mock_rejects_unanswered_tool_call(
    mock: tuple[MockState, openai.AsyncOpenAI],
) -> None:
    _, client = mock
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        *_MESSAGES,
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "user", "content": "well?"},
    ]
    with pytest.raises(openai.BadRequestError, match="call_1"):
        await client.chat.completions.create(model="m", messages=messages, tools=_TOOLS)


async def test_cut_stream_breaks_the_sdk_stream(mock: tuple[MockState, openai.AsyncOpenAI]) -> None:
    state, client = mock
    state.reply = Reply(text="Hello there, a long answer.", cut_after_events=3)
    stream = await client.chat.completions.create(model="m", messages=_MESSAGES, stream=True)
    with pytest.raises(openai.APIError):  # raised while iterating
        async for _ in stream:
            pass


async def test_codec_requests_pass_the_mock_and_answers_decode() -> None:
    """encode_request output is valid for a strict upstream; its stream decodes to a Finish."""
    state = MockState(reply=Reply(text="ok", reasoning="hm", cached_tokens=3))
    server = TestServer(create_app(state))
    await server.start_server()
    request = ir.Request(
        model="m",
        messages=[
            ir.Message(role="user", content=[ir.TextBlock(text="go")]),
            ir.Message(
                role="assistant",
                content=[
                    ir.ThinkingBlock(text="plan", origin="openai-compatible"),
                    ir.ToolCallBlock(id="call_1", name="f", arguments="{}"),
                ],
            ),
            ir.Message(
                role="user",
                content=[ir.ToolResultBlock(call_id="call_1", content=[ir.TextBlock(text="r")])],
            ),
        ],
        tools=[ir.Tool(name="f", parameters={"type": "object"})],
        top_k=4,
        stream=True,
    )
    headers = {"Authorization": f"Bearer {state.api_key}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                server.make_url("/v1/chat/completions"),
                json=chat.encode_request(request),
                headers=headers,
            ) as answer,
        ):
            assert answer.status == 200, await answer.text()
            framer, decoder = sse.Decoder(), chat.StreamDecoder()
            events = [e for ev in framer.feed(await answer.read()) for e in decoder.feed(ev)]
    finally:
        await server.close()
    events += decoder.finish()
    finish = events[-1]
    assert isinstance(finish, ir.Finish) and finish.usage is not None
    assert finish.usage.cache_read_tokens == 3 and finish.usage.input_tokens == 8
    assert state.received[0].body["messages"][1]["reasoning_content"] == "plan"
