"""Gemini streams as the google-genai SDK reads them, and Gemini-only decoder behaviours.

The golden fixtures of every protocol are checked in test_streams.py.
"""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest
from google import genai
from google.genai import errors, types

from plexus import ir, sse
from plexus.protocols import gemini
from plexus.protocols.gemini.server_tools import client_part
from tests.conftest import FIXTURES, fixture_cases
from tests.protocols.test_streams import encode_stream, load_events

ENCODER_CASES = fixture_cases(FIXTURES / "gemini", ".ir.jsonl")


def _client(body: bytes, seen: list[httpx.Request]) -> genai.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    transport = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    options = types.HttpOptions(base_url="http://gemini.test", httpx_async_client=transport)
    return genai.Client(api_key="k", http_options=options)


async def _sdk_stream(body: bytes) -> list[types.GenerateContentResponse]:
    stream = await _client(body, []).aio.models.generate_content_stream(model="m", contents="hi")
    return [chunk async for chunk in stream]


def _parts(chunks: list[types.GenerateContentResponse]) -> list[types.Part]:
    parts: list[types.Part] = []
    for chunk in chunks:
        for candidate in chunk.candidates or []:
            parts += candidate.content.parts or [] if candidate.content else []
    return parts


def _ir_text(events: list[ir.StreamEvent], kind: type[Any]) -> str:
    """The text (kind TextDelta) or thinking (ThinkingDelta) of the blocks the IR opened, a
    text block's initial text included."""
    started: set[int] = set()
    texts: list[str] = []
    for event in events:
        match event:
            case ir.BlockStart(block=ir.TextBlock() | ir.RefusalBlock() as block) if (
                kind is ir.TextDelta
            ):
                started.add(event.index)
                texts.append(block.text)
            case ir.BlockStart(block=ir.ServerToolCallBlock() | ir.ServerToolResultBlock() as tool):
                shown = client_part(tool)  # a tool with no part of its own is text
                if kind is ir.TextDelta and shown is not None and shown.text:
                    texts.append(shown.text)
            case ir.BlockStart():
                started.add(event.index)
            case ir.TextDelta() | ir.ThinkingDelta() if (
                isinstance(event, kind) and event.index in started
            ):
                texts.append(event.text)
    return "".join(texts)


@pytest.mark.parametrize("case", [c for c in ENCODER_CASES if "error" not in c])
async def test_sdk_reads_encoder_stream(case: str) -> None:
    events = load_events("gemini", case)
    body = encode_stream("gemini", events)
    if not any(isinstance(e, ir.Finish) for e in events):
        with pytest.raises(errors.APIError):
            await _sdk_stream(body)
        return
    parts = _parts(await _sdk_stream(body))
    text = "".join(p.text or "" for p in parts if not p.thought)
    thoughts = "".join(p.text or "" for p in parts if p.thought)
    assert text == _ir_text(events, ir.TextDelta)
    assert thoughts == _ir_text(events, ir.ThinkingDelta)
    calls = [
        e.block.name
        for e in events
        if isinstance(e, ir.BlockStart) and isinstance(e.block, ir.ToolCallBlock)
    ]
    assert [p.function_call.name for p in parts if p.function_call] == calls


@pytest.mark.parametrize("case", ["error-open-block", "error-mid-stream"])
async def test_sdk_raises_on_error_chunk(case: str) -> None:
    body = encode_stream("gemini", load_events("gemini", case))
    with pytest.raises(errors.APIError) as caught:
        await _sdk_stream(body)
    assert caught.value.code == 503


async def test_foreign_tokens_survive_the_sdk_round_trip() -> None:
    """Anthropic thinking sent to a Gemini client comes back intact through google-genai."""
    body = encode_stream("gemini", load_events("gemini", "foreign-reasoning"))
    parts = _parts(await _sdk_stream(body))
    seen: list[httpx.Request] = []
    history = [
        types.Content(role="user", parts=[types.Part(text="Weather?")]),
        types.Content(role="model", parts=parts),
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        id="toolu_01A", name="get_weather", response={"output": "18C"}
                    )
                )
            ],
        ),
    ]
    await _client(b"", seen).aio.models.generate_content(model="m", contents=history)
    request = gemini.decode_request(seen[0].content)
    assistant = request.messages[1].content
    assert assistant[0] == ir.ThinkingBlock(
        text="The user wants the weather.",
        signature="EqQBCkYIBxgCKkD+abc/def==",
        origin="anthropic",
    )
    assert assistant[1] == ir.TextBlock(text="Checking.")
    assert assistant[2] == ir.ToolCallBlock(
        id="toolu_01A", name="get_weather", arguments='{"city":"Paris"}'
    )
    assert assistant[3] == ir.ThinkingBlock(redacted="UkVEQUNURUQ=", origin="anthropic")
    result = request.messages[2].content[0]
    assert isinstance(result, ir.ToolResultBlock) and result.call_id == "toolu_01A"


def test_decoder_ignores_everything_after_an_error() -> None:
    decoder = gemini.StreamDecoder()
    decoder.feed(sse.Event(None, '{"error":{"code":500,"message":"boom","status":"INTERNAL"}}'))
    assert decoder.feed(sse.Event(None, '{"candidates":[]}')) == []
    assert decoder.finish() == []


async def test_sdk_reads_encoded_response() -> None:
    response = ir.Response(
        id="msg_9",
        model="claude-x",
        content=[
            ir.ThinkingBlock(text="why", signature="sig", origin="anthropic"),
            ir.TextBlock(text="Hello"),
            ir.ToolCallBlock(id="toolu_9", name="f", arguments='{"a": [1]}'),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(input_tokens=3, output_tokens=4),
    )
    body = gemini.encode_response(response, ir.Request(model="alias", messages=[]))

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    transport = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    options = types.HttpOptions(base_url="http://gemini.test", httpx_async_client=transport)
    client = genai.Client(api_key="k", http_options=options)
    result = await client.aio.models.generate_content(model="m", contents="hi")
    assert result.text == "Hello"
    assert [(c.id, c.name, c.args) for c in result.function_calls or []] == [
        ("toolu_9", "f", {"a": [1]})
    ]
    assert result.usage_metadata is not None and result.usage_metadata.total_token_count == 7
