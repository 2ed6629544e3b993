"""Messages streams: golden fixtures both ways, split chunks, and the anthropic SDK's accumulator.

Regenerate expected files with PLEXUS_REGEN=1 and read the diff before committing.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import anthropic
import httpx2
import msgspec
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from plexus import ir, sse
from plexus.protocols import messages
from tests.conftest import FIXTURES, fixture_cases
from tests.mocks.base import MockState, Reply, ToolCall
from tests.mocks.messages_upstream import create_app

GOLDEN = FIXTURES / "messages"
REGEN = os.environ.get("PLEXUS_REGEN") == "1"
UPSTREAM_CASES = fixture_cases(GOLDEN, ".sse", exclude=".messages.sse")
IR_CASES = fixture_cases(GOLDEN, ".ir.jsonl")
EVENT_DECODER = msgspec.json.Decoder(ir.StreamEvent)
EVENT_ENCODER = msgspec.json.Encoder()
REQUEST = ir.Request(model="claude-test", messages=[])


def _chunks(data: bytes, mode: str) -> list[bytes]:
    if mode == "whole":
        return [data]
    if mode == "bytes":
        return [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(len(data))
    pieces: list[bytes] = []
    position = 0
    while position < len(data):
        size = rng.randint(1, 40)
        pieces.append(data[position : position + size])
        position += size
    return pieces


def decode_stream(data: bytes, mode: str = "whole") -> list[ir.StreamEvent]:
    """Run upstream bytes through sse.Decoder and the Messages StreamDecoder."""
    parser = sse.Decoder()
    decoder = messages.StreamDecoder()
    events: list[ir.StreamEvent] = []
    for chunk in _chunks(data, mode):
        for event in parser.feed(chunk):
            events.extend(decoder.feed(event))
    for event in parser.flush():
        events.extend(decoder.feed(event))
    events.extend(decoder.finish())
    return events


def encode_stream(events: list[ir.StreamEvent]) -> bytes:
    """Run IR events through the Messages StreamEncoder."""
    encoder = messages.StreamEncoder(REQUEST)
    out: list[bytes] = []
    for event in events:
        out.extend(encoder.feed(event))
    out.extend(encoder.finish())
    return b"".join(out)


def _load_ir(case: str) -> list[ir.StreamEvent]:
    lines = (GOLDEN / f"{case}.ir.jsonl").read_bytes().splitlines()
    return [EVENT_DECODER.decode(line) for line in lines if line.strip()]


def _check_golden(path: Path, actual: bytes) -> None:
    if REGEN or not path.exists():
        path.write_bytes(actual)
    assert actual == path.read_bytes()


@pytest.mark.parametrize("case", UPSTREAM_CASES)
def test_decoder_matches_golden_ir_in_any_chunking(case: str) -> None:
    data = (GOLDEN / f"{case}.sse").read_bytes()
    events = decode_stream(data)
    actual = b"".join(EVENT_ENCODER.encode(event) + b"\n" for event in events)
    _check_golden(GOLDEN / f"{case}.ir.jsonl", actual)
    assert decode_stream(data, "bytes") == events
    assert decode_stream(data, "random") == events


@pytest.mark.parametrize("case", IR_CASES)
def test_encoder_matches_golden_sse(case: str) -> None:
    _check_golden(GOLDEN / f"{case}.messages.sse", encode_stream(_load_ir(case)))


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


@pytest.mark.parametrize("case", IR_CASES + UPSTREAM_CASES)
async def test_sdk_accumulates_encoded_stream(case: str) -> None:
    if case in IR_CASES:
        events = _load_ir(case)
    else:
        events = decode_stream((GOLDEN / f"{case}.sse").read_bytes())
    body = encode_stream(events)
    if any(isinstance(event, ir.StreamError) for event in events):
        with pytest.raises(anthropic.APIError):
            await _sdk_final_message(body)
        return
    message = await _sdk_final_message(body)
    opened = [event.block for event in events if isinstance(event, ir.BlockStart)]
    assert len(message.content) == len(opened)
    finish = next(event for event in events if isinstance(event, ir.Finish))
    assert message.stop_reason is not None
    if finish.usage is not None:
        assert message.usage.output_tokens == finish.usage.output_tokens


async def test_sdk_sees_native_signature_and_parsed_tool_inputs() -> None:
    events = decode_stream((GOLDEN / "tool-calls-parallel.sse").read_bytes())
    message = await _sdk_final_message(encode_stream(events))
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
    message = await _sdk_final_message(encode_stream(_load_ir("foreign-reasoning")))
    first, second, tool = message.content
    assert first.type == "thinking" and first.signature == "plx1.openai-compatible."
    assert second.type == "thinking" and second.signature == "plx1.gemini.gemSig=="
    assert tool.type == "tool_use" and tool.id.startswith("toolu_")
    assert message.stop_reason == "tool_use"
    assert message.id == "msg_chatcmpl-abc_1"


async def test_sdk_keeps_raw_other_stop_reason() -> None:
    message = await _sdk_final_message(encode_stream(_load_ir("tool-calls-interleaved")))
    assert message.stop_reason == "weird_reason"  # type: ignore[comparison-overlap]
    assert [block.type for block in message.content] == ["text", "tool_use", "tool_use"]


async def test_sdk_raises_on_error_event() -> None:
    body = encode_stream(decode_stream((GOLDEN / "error-mid-stream.sse").read_bytes()))
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
            events = decode_stream(await got.read())
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
