"""The codec as the provider against the strict mock upstream: its bodies are accepted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest
from aiohttp.test_utils import TestServer

from plexus import ir, sse
from plexus.protocols import responses
from tests.mocks.base import MockState, Reply, ToolCall
from tests.mocks.responses_upstream import create_app


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, MockState]]:
    state = MockState()
    server = TestServer(create_app(state))
    await server.start_server()
    yield str(server.make_url("/v1/responses")), state
    await server.close()


def _history() -> ir.Request:
    return ir.Request(
        model="gpt-x",
        system=[ir.TextBlock("Be terse.")],
        messages=[
            ir.Message("user", [ir.TextBlock("Weather?")]),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingBlock("plan", signature="sig", origin="anthropic"),
                    ir.ThinkingBlock("", signature="enc", origin="openai", item_id="rs_1"),
                    ir.ToolCallBlock("toolu_01", "get_weather", '{"city":"Paris"}'),
                ],
            ),
            ir.Message("user", [ir.ToolResultBlock("toolu_01", [ir.TextBlock("18C")])]),
        ],
        tools=[ir.Tool("get_weather", parameters={"type": "object"})],
        stop=["END"],
        seed=7,
        top_k=3,
        max_tokens=8,
        temperature=3.0,
        reasoning=ir.Reasoning(effort="low", summary="auto"),
    )


async def _post(url: str, body: dict[str, object]) -> tuple[int, bytes]:
    headers = {"Authorization": "Bearer upstream-key"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as answer,
    ):
        return answer.status, await answer.read()


async def test_encoded_history_is_accepted_and_answer_decodes(
    upstream: tuple[str, MockState],
) -> None:
    url, state = upstream
    state.reply = Reply(text="Sunny", reasoning="r", signature="enc-2", cached_tokens=4)
    status, data = await _post(url, responses.encode_request(_history()))
    assert status == 200, data
    response = responses.decode_response(data)
    assert response.content[-1] == ir.TextBlock("Sunny")
    thinking = response.content[0]
    assert isinstance(thinking, ir.ThinkingBlock) and thinking.item_id is not None
    signature = f"{thinking.item_id}|enc-2"
    assert thinking == ir.ThinkingBlock("r", signature, "openai", item_id=thinking.item_id)
    assert response.usage.input_tokens == 7 and response.usage.cache_read_tokens == 4


async def test_streamed_tool_calls_decode(upstream: tuple[str, MockState]) -> None:
    url, state = upstream
    calls = [
        ToolCall("get_weather", {"city": "Paris"}, "call_1"),
        ToolCall("get_weather", {"city": "Rome"}),
    ]
    state.reply = Reply(text="", tool_calls=calls, stop="tool_use")
    request = _history()
    request.stream = True
    status, data = await _post(url, responses.encode_request(request))
    assert status == 200
    decoder, framing = responses.StreamDecoder(), sse.Decoder()
    events = [e for event in framing.feed(data) + framing.flush() for e in decoder.feed(event)]
    events += decoder.finish()
    starts = [e.block for e in events if isinstance(e, ir.BlockStart)]
    assert [b.name for b in starts if isinstance(b, ir.ToolCallBlock)] == [
        "get_weather",
        "get_weather",
    ]
    finish = events[-1]
    assert isinstance(finish, ir.Finish) and finish.stop_reason == "tool_use"
    arguments: dict[int, str] = {}
    for event in events:
        if isinstance(event, ir.ToolArgumentsDelta):
            arguments[event.index] = arguments.get(event.index, "") + event.json
    assert [msgspec.json.decode(a) for a in arguments.values()] == [
        {"city": "Paris"},
        {"city": "Rome"},
    ]


async def test_mock_rejects_foreign_function_call_id(upstream: tuple[str, MockState]) -> None:
    url, _ = upstream
    body = responses.encode_request(_history())
    body["input"][2]["id"] = "toolu_01"
    status, data = await _post(url, body)
    assert status == 400 and b"begins with 'fc'" in data
