"""The Responses mock upstream is realistic: the official openai SDK parses its answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest
from aiohttp.test_utils import TestServer
from openai.types.responses import FunctionToolParam

from tests.mocks.base import MockState, Reply, ToolCall
from tests.mocks.responses_upstream import create_app


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, MockState]]:
    state = MockState()
    test_server = TestServer(create_app(state))
    await test_server.start_server()
    yield test_server, state
    await test_server.close()


def _client(server: TestServer, key: str = "upstream-key") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=str(server.make_url("/v1")), max_retries=0)


async def test_sdk_parses_plain_answer(server: tuple[TestServer, MockState]) -> None:
    test_server, state = server
    state.reply = Reply(text="Hi there", reasoning="Thinking", signature="enc-1", cached_tokens=3)
    response = await _client(test_server).responses.create(model="gpt-x", input="hello")
    assert response.output_text == "Hi there"
    assert response.output[0].type == "reasoning"
    assert response.usage is not None and response.usage.input_tokens_details.cached_tokens == 3
    assert state.received[0].path == "/v1/responses"


async def test_sdk_stream_accumulates_tool_calls(server: tuple[TestServer, MockState]) -> None:
    test_server, state = server
    calls = [ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time", {"zone": "CET"})]
    state.reply = Reply(
        text="", reasoning="plan", signature="enc-2", tool_calls=calls, stop="tool_use"
    )
    tool: FunctionToolParam = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object"},
        "strict": False,
    }
    async with _client(test_server).responses.stream(
        model="gpt-x", input="hi", tools=[tool]
    ) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    names = [item.name for item in final.output if item.type == "function_call"]
    assert names == ["get_weather", "get_time"]
    assert final.output[0].type == "reasoning" and final.output[0].encrypted_content == "enc-2"


async def test_sdk_sees_mock_validation_errors(server: tuple[TestServer, MockState]) -> None:
    test_server, _ = server
    client = _client(test_server)
    with pytest.raises(openai.BadRequestError, match="Unknown parameter"):
        await client.responses.create(model="m", input="x", extra_body={"stop": ["a"]})
    bad_call = {
        "type": "function_call",
        "id": "call_1",
        "call_id": "call_1",
        "name": "f",
        "arguments": "{}",
    }
    with pytest.raises(openai.BadRequestError, match="begins with 'fc'"):
        await client.responses.create(model="m", input=[bad_call])  # type: ignore[list-item]
    orphan = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
    with pytest.raises(openai.BadRequestError, match="No tool output found"):
        await client.responses.create(model="m", input=[orphan])  # type: ignore[list-item]
    with pytest.raises(openai.AuthenticationError):
        await _client(test_server, key="wrong").responses.create(model="m", input="x")


async def test_sdk_sees_scripted_error_and_cut_stream(server: tuple[TestServer, MockState]) -> None:
    test_server, state = server
    state.replies = [Reply(error_status=429, error_message="slow down"), Reply(cut_after_events=4)]
    client = _client(test_server)
    with pytest.raises(openai.RateLimitError, match="slow down"):
        await client.responses.create(model="m", input="x")
    with pytest.raises((RuntimeError, openai.APIError)):
        async with client.responses.stream(model="m", input="x") as stream:
            async for _ in stream:
                pass
            await stream.get_final_response()


async def test_item_references_resolve_to_stored_items(
    server: tuple[TestServer, MockState],
) -> None:
    """Answers are stored unless `store` is false; a reference names one, or is refused."""
    test_server, state = server
    client = _client(test_server)
    tool: FunctionToolParam = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object"},
        "strict": False,
    }
    state.reply = Reply(text="", tool_calls=[ToolCall("get_weather", {}, id="call_1")])
    first = await client.responses.create(model="gpt-x", input="hi", tools=[tool])
    call = next(item for item in first.output if item.type == "function_call")
    state.reply = Reply(text="Done.")
    answer = await client.responses.create(
        model="gpt-x",
        tools=[tool],
        input=[
            {"role": "user", "content": "hi"},
            {"type": "item_reference", "id": call.id or ""},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
    )
    assert answer.output_text == "Done."
    with pytest.raises(openai.BadRequestError, match="Item with id 'fc_unknown' not found"):
        await client.responses.create(
            model="gpt-x", input=[{"type": "item_reference", "id": "fc_unknown"}]
        )
    state.reply = Reply(text="", tool_calls=[ToolCall("get_weather", {}, id="call_2")])
    unstored = await client.responses.create(model="gpt-x", input="hi", tools=[tool], store=False)
    call = next(item for item in unstored.output if item.type == "function_call")
    with pytest.raises(openai.BadRequestError, match="not found"):
        await client.responses.create(
            model="gpt-x", input=[{"type": "item_reference", "id": call.id or ""}]
        )
