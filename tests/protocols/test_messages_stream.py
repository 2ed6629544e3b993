"""Messages streams as the anthropic SDK reads them, and the codec against the strict mock.

The golden fixtures of every protocol are checked in test_streams.py.
"""

from __future__ import annotations

import anthropic
import httpx2
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from plexus import ir
from plexus.protocols import messages
from tests.conftest import FIXTURES, fixture_cases
from tests.mocks.base import MockState, Reply, ToolCall
from tests.mocks.messages_upstream import create_app
from tests.protocols.test_streams import SETUPS, decode_stream, encode_stream, load_events

GOLDEN = FIXTURES / "messages"
IR_CASES = fixture_cases(GOLDEN, ".ir.jsonl")
REQUEST = SETUPS["messages"].request


def _sdk_client(body: bytes, content_type: str = "text/event-stream") -> anthropic.AsyncAnthropic:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": content_type}, content=body)

    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return anthropic.AsyncAnthropic(
        api_key="k", base_url="http://gateway.test", http_client=http_client, max_retries=0
    )


async def _sdk_final_message(body: bytes) -> anthropic.types.Message:
    async with (
        _sdk_client(body) as client,
        client.messages.stream(
            model="claude-sonnet-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        return await stream.get_final_message()


@pytest.mark.parametrize("case", IR_CASES)
async def test_sdk_accumulates_encoded_stream(case: str) -> None:
    events = load_events("messages", case)
    body = encode_stream("messages", events)
    finish = next((event for event in events if isinstance(event, ir.Finish)), None)
    if finish is None or any(isinstance(event, ir.StreamError) for event in events):
        with pytest.raises(anthropic.APIError):
            await _sdk_final_message(body)
        return
    message = await _sdk_final_message(body)
    opened = [event.block for event in events if isinstance(event, ir.BlockStart)]
    assert len(message.content) == len(opened)
    assert message.stop_reason is not None
    if finish.usage is not None:
        assert message.usage.output_tokens == finish.usage.output_tokens


async def test_sdk_sees_native_signature_and_parsed_tool_inputs() -> None:
    events = decode_stream("messages", (GOLDEN / "tool-calls-parallel.sse").read_bytes())
    message = await _sdk_final_message(encode_stream("messages", events))
    thinking, text, first, second = message.content
    assert thinking.type == "thinking"
    assert thinking.signature == "EqQBCkgIARABGAIiQL+sig/with+chars=="
    assert thinking.thinking == "The user wants the weather in Paris and Tōkyō."
    assert text.type == "text" and text.text == "I'll check both."
    assert first.type == "tool_use" and first.input == {"city": "Paris"}
    assert second.type == "tool_use" and second.input == {"city": "Tōkyō"}
    assert message.usage.cache_read_input_tokens == 2048
    assert message.usage.input_tokens == 512
    assert message.stop_reason == "tool_use"


async def test_sdk_sees_tagged_foreign_tokens_and_sanitised_ids() -> None:
    message = await _sdk_final_message(
        encode_stream("messages", load_events("messages", "foreign-reasoning"))
    )
    first, second, tool = message.content
    assert first.type == "thinking" and first.signature == "plx1.openai-compatible."
    assert second.type == "thinking" and second.signature == "plx1.gemini.gemSig=="
    assert tool.type == "tool_use" and tool.id.startswith("toolu_")
    assert message.stop_reason == "tool_use"
    assert message.id == "msg_chatcmpl-abc_1"


async def test_sdk_keeps_raw_other_stop_reason() -> None:
    message = await _sdk_final_message(
        encode_stream("messages", load_events("messages", "tool-calls-interleaved"))
    )
    assert message.stop_reason == "weird_reason"  # type: ignore[comparison-overlap]
    assert [block.type for block in message.content] == ["text", "tool_use", "tool_use"]


async def test_sdk_raises_on_error_event() -> None:
    events = decode_stream("messages", (GOLDEN / "error-mid-stream.sse").read_bytes())
    body = encode_stream("messages", events)
    assert b"message_stop" not in body
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        await _sdk_final_message(body)


async def test_sdk_parses_encoded_response() -> None:
    response = ir.Response(
        id="chatcmpl-1",
        model="gpt-x",
        content=[
            ir.ThinkingBlock(text="hm", origin="openai"),
            ir.TextBlock(text="Hi"),
            ir.ToolCallBlock(id="call_1", name="f", arguments='{"a": 1}'),
        ],
        stop_reason="end",
        usage=ir.Usage(input_tokens=5, cache_read_tokens=3, output_tokens=9, reasoning_tokens=4),
    )
    body = messages.encode_response(response, REQUEST)
    async with _sdk_client(body, "application/json") as client:
        message = await client.messages.create(
            model="claude-sonnet-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    assert message.stop_reason == "tool_use"
    assert message.usage.cache_read_input_tokens == 3
    assert message.id == "msg_chatcmpl-1"


async def test_codec_as_provider_against_the_strict_mock() -> None:
    state = MockState(
        reply=Reply(
            reasoning="think",
            signature="EqMock==",
            tool_calls=[ToolCall("f", {"a": "é"}, id="toolu_9")],
            input_tokens=30,
            cached_tokens=10,
        )
    )
    request = ir.Request(
        model="claude-sonnet-5",
        messages=[ir.Message(role="user", content=[ir.TextBlock(text="go")])],
        tools=[ir.Tool(name="f")],
        reasoning=ir.Reasoning(effort="low"),
        stream=True,
    )
    headers = {"x-api-key": state.api_key, "anthropic-version": "2023-06-01"}
    async with TestServer(create_app(state)) as server, ClientSession() as session:
        url = str(server.make_url("/v1/messages"))
        async with session.post(url, json=messages.encode_request(request), headers=headers) as got:
            assert got.status == 200
            events = decode_stream("messages", await got.read())
        request.stream = False
        async with session.post(url, json=messages.encode_request(request), headers=headers) as got:
            assert got.status == 200
            response = messages.decode_response(await got.read())
    finish = events[-1]
    assert isinstance(finish, ir.Finish) and finish.stop_reason == "tool_use"
    assert finish.usage == ir.Usage(input_tokens=20, output_tokens=7, cache_read_tokens=10)
    signatures = [event for event in events if isinstance(event, ir.SignatureDelta)]
    assert [event.signature for event in signatures] == ["EqMock=="]
    assert response.content == [
        ir.ThinkingBlock(text="think", signature="EqMock==", origin="anthropic"),
        ir.TextBlock(text="Hello from the mock."),
        ir.ToolCallBlock(id="toolu_9", name="f", arguments='{"a": "\\u00e9"}'),
    ]
