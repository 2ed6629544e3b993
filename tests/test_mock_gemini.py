"""The Gemini mock is realistic: the official google-genai SDK talks to it, streamed and not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from google import genai
from google.genai import errors, types

from plexus import ir, sse
from plexus.protocols import gemini
from tests.mocks.base import MockState, Reply, ToolCall
from tests.mocks.gemini_upstream import create_app

MODEL = "gemini-3-flash"


@pytest.fixture
async def state_and_client() -> AsyncIterator[tuple[MockState, genai.Client]]:
    state = MockState()
    async with TestServer(create_app(state), host="127.0.0.1") as server:
        options = types.HttpOptions(base_url=str(server.make_url("")), api_version="v1beta")
        yield state, genai.Client(api_key=state.api_key, http_options=options)


async def test_sdk_reads_plain_answer(state_and_client: tuple[MockState, genai.Client]) -> None:
    state, client = state_and_client
    state.reply = Reply(text="Hi there", input_tokens=20, cached_tokens=5, output_tokens=9)
    response = await client.aio.models.generate_content(model=MODEL, contents="Hello")
    assert response.text == "Hi there"
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata is not None
    assert response.usage_metadata.prompt_token_count == 20
    assert response.usage_metadata.cached_content_token_count == 5
    received = state.received[0]
    assert received.path == f"/v1beta/models/{MODEL}:generateContent"
    assert received.headers["x-goog-api-key"] == state.api_key


async def test_sdk_streams_thoughts_text_and_usage(
    state_and_client: tuple[MockState, genai.Client],
) -> None:
    state, client = state_and_client
    state.reply = Reply(
        text="Paris is the capital.", reasoning="Think.", signature="c2ln", reasoning_tokens=4
    )
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(
            thinking_level=types.ThinkingLevel.LOW, include_thoughts=True
        )
    )
    text, thoughts, signatures = "", "", []
    stream = await client.aio.models.generate_content_stream(
        model=MODEL, contents="Capital of France?", config=config
    )
    last = None
    async for chunk in stream:
        last = chunk
        for part in (
            chunk.candidates[0].content.parts
            if chunk.candidates
            and chunk.candidates[0].content
            and chunk.candidates[0].content.parts
            else []
        ):
            if part.thought:
                thoughts += part.text or ""
            else:
                text += part.text or ""
            if part.thought_signature:
                signatures.append(part.thought_signature)
    assert (text, thoughts, signatures) == ("Paris is the capital.", "Think.", [b"sig"])
    assert last is not None and last.usage_metadata is not None
    assert last.usage_metadata.thoughts_token_count == 4
    assert state.received[0].query == {"alt": "sse"}


async def test_sdk_reads_function_calls(state_and_client: tuple[MockState, genai.Client]) -> None:
    state, client = state_and_client
    state.reply = Reply(
        text="",
        tool_calls=[ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time", {})],
        signature="c2ln",
        stop="tool_use",
    )
    response = await client.aio.models.generate_content(model=MODEL, contents="Weather?")
    calls = response.function_calls or []
    assert [(call.name, call.args) for call in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {}),
    ]
    assert response.candidates and response.candidates[0].content
    parts = response.candidates[0].content.parts or []
    assert parts[0].thought_signature == b"sig" and parts[1].thought_signature is None


async def test_mock_rejects_unknown_fields_and_missing_signature(
    state_and_client: tuple[MockState, genai.Client],
) -> None:
    _, client = state_and_client
    history = [
        types.Content(role="user", parts=[types.Part(text="Weather?")]),
        types.Content(
            role="model",
            parts=[types.Part(function_call=types.FunctionCall(name="get_weather", args={}))],
        ),
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        name="get_weather", response={"output": "sunny"}
                    )
                )
            ],
        ),
    ]
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(model=MODEL, contents=history)
    assert caught.value.code == 400 and "thought_signature" in (caught.value.message or "")
    config = types.GenerateContentConfig(http_options=types.HttpOptions(extra_body={"bogus": 1}))
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(model=MODEL, contents="hi", config=config)
    assert 'Unknown name "bogus"' in (caught.value.message or "")


async def test_mock_answers_scripted_errors_and_bad_keys(
    state_and_client: tuple[MockState, genai.Client],
) -> None:
    state, client = state_and_client
    state.reply = Reply(error_status=429, error_message="quota")
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    state.api_key = "other"
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    assert caught.value.code == 400 and "API key not valid" in (caught.value.message or "")


async def test_codec_bodies_pass_the_mock_and_answers_decode() -> None:
    """The codec's upstream side against the strict mock, streamed, non-streamed and cut."""
    state = MockState()
    history = [
        ir.Message(role="user", content=[ir.TextBlock(text="Weather?")]),
        ir.Message(
            role="assistant",
            content=[ir.ToolCallBlock(id="toolu_1", name="get_weather", arguments='{"c": 1}')],
        ),
        ir.Message(
            role="user",
            content=[ir.ToolResultBlock(call_id="toolu_1", content=[ir.TextBlock(text="18C")])],
        ),
    ]
    request = ir.Request(
        model=MODEL,
        messages=history,
        tools=[ir.Tool(name="get_weather", parameters={"type": "object", "properties": {}})],
        reasoning=ir.Reasoning(effort="low"),
        max_tokens=256,
    )
    body = gemini.encode_request(request)
    headers = {"x-goog-api-key": state.api_key}
    base = f"/v1beta/models/{MODEL}"
    async with (
        TestServer(create_app(state), host="127.0.0.1") as server,
        aiohttp.ClientSession() as session,
    ):
        state.reply = Reply(text="It is 18C.", reasoning="ok", signature="c2ln", reasoning_tokens=3)
        async with session.post(
            server.make_url(f"{base}:generateContent"), json=body, headers=headers
        ) as answer:
            assert answer.status == 200, await answer.text()
            response = gemini.decode_response(await answer.read())
        assert response.content[0] == ir.ThinkingBlock(text="ok", origin="gemini")
        assert response.content[-1] == ir.TextBlock(text="It is 18C.")
        assert response.usage.reasoning_tokens == 3
        state.reply = Reply(text="one two three", cut_after_events=1)
        url = server.make_url(f"{base}:streamGenerateContent").with_query(alt="sse")
        events = await _stream_events(session, str(url), body, headers)
    assert isinstance(events[-1], ir.StreamError)
    assert any(isinstance(e, ir.TextDelta) for e in events)


async def _stream_events(
    session: aiohttp.ClientSession, url: str, body: dict[str, object], headers: dict[str, str]
) -> list[ir.StreamEvent]:
    framing, decoder = sse.Decoder(), gemini.StreamDecoder()
    events: list[ir.StreamEvent] = []
    try:
        async with session.post(url, json=body, headers=headers) as answer:
            async for chunk in answer.content.iter_any():
                for event in framing.feed(chunk):
                    events += decoder.feed(event)
    except aiohttp.ClientPayloadError:
        pass  # the mock dropped the connection, as asked
    return events + decoder.finish()
