"""Chat Completions streams as the openai SDK reads them, and chat-only encoder behaviours.

The golden fixtures of every protocol are checked in test_streams.py.
"""

from __future__ import annotations

import httpx2 as httpx
import msgspec
import openai
import pytest

from plexus import ir, sse
from plexus.protocols import chat
from plexus.protocols.server_tools import join_text
from tests.conftest import FIXTURES, fixture_cases
from tests.protocols.test_streams import SETUPS, decode_stream, encode_stream, load_events

GOLDEN = FIXTURES / "chat"
IR_CASES = fixture_cases(GOLDEN, ".ir.jsonl")


def _completes(case: str) -> bool:
    """Whether a case's IR stream ends in a Finish (not an error, not cut short)."""
    events = load_events("chat", case)
    return any(isinstance(e, ir.Finish) for e in events) and not any(
        isinstance(e, ir.StreamError) for e in events
    )


def _text_of(events: list[ir.StreamEvent]) -> str:
    """The content then the refusal an IR stream carries, a block's initial text included, server
    tool blocks as text on lines of their own (Chat has none)."""
    blocks: dict[int, ir.Block] = {}
    for event in events:
        match event:
            case ir.BlockStart(block=ir.TextBlock() | ir.RefusalBlock() as opened):
                blocks[event.index] = type(opened)(opened.text)
            case ir.BlockStart(block=ir.ServerToolCallBlock() | ir.ServerToolResultBlock() as tool):
                blocks[event.index] = tool
            case ir.TextDelta() if isinstance(
                blocks.get(event.index), ir.TextBlock | ir.RefusalBlock
            ):
                block = blocks[event.index]
                assert isinstance(block, ir.TextBlock | ir.RefusalBlock)
                block.text += event.text
    ordered = [blocks[index] for index in sorted(blocks)]
    refusal = "".join(block.text for block in ordered if isinstance(block, ir.RefusalBlock))
    return join_text(ordered) + refusal


def _sdk_client(body: bytes) -> openai.AsyncOpenAI:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    http_client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return openai.AsyncOpenAI(
        api_key="k", base_url="http://gateway/v1", http_client=http_client, max_retries=0
    )


_MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("case", [c for c in IR_CASES if _completes(c)])
async def test_sdk_stream_helper_accepts_encoded_stream(case: str) -> None:
    events = load_events("chat", case)
    client = _sdk_client(encode_stream("chat", events))
    async with client.chat.completions.stream(model="alias", messages=_MESSAGES) as stream:
        try:
            final = await stream.get_final_completion()
        except openai.LengthFinishReasonError as length:  # the SDK's own reaction to "length"
            final = length.completion  # type: ignore[assignment]
    choice = final.choices[0]
    tool_blocks = [
        e.block
        for e in events
        if isinstance(e, ir.BlockStart) and isinstance(e.block, ir.ToolCallBlock)
    ]
    calls = choice.message.tool_calls or []
    assert [call.function.name for call in calls] == [block.name for block in tool_blocks]
    assert (choice.message.content or "") + (choice.message.refusal or "") == _text_of(events)
    assert final.usage is not None


async def test_sdk_accumulates_reasoning_details_for_the_round_trip() -> None:
    client = _sdk_client(encode_stream("chat", load_events("chat", "foreign-reasoning")))
    async with client.chat.completions.stream(model="alias", messages=_MESSAGES) as stream:
        final = await stream.get_final_completion()
    message = final.choices[0].message.model_dump(exclude_none=True)
    assert message["reasoning_content"] == "Plan it."
    echoed = {"model": "alias", "messages": [{"role": "user", "content": "hi"}, message]}
    request = chat.decode_request(msgspec.json.encode(echoed))
    blocks = request.messages[1].content
    assert blocks[0] == ir.ThinkingBlock(text="Plan it.", signature="EqQBsig==", origin="anthropic")
    assert blocks[1] == ir.ThinkingBlock(redacted="REDACTED==", origin="anthropic")
    gemini_at = next(
        i for i, b in enumerate(blocks) if isinstance(b, ir.ThinkingBlock) and b.origin == "gemini"
    )
    assert blocks[gemini_at] == ir.ThinkingBlock(signature="gemsig", origin="gemini")
    follower = blocks[gemini_at + 1]
    assert isinstance(follower, ir.ToolCallBlock) and follower.id == "toolu_1"


@pytest.mark.parametrize("case", [c for c in IR_CASES if not _completes(c)])
async def test_sdk_raises_on_encoded_error_frame(case: str) -> None:
    client = _sdk_client(encode_stream("chat", load_events("chat", case)))
    with pytest.raises(openai.APIError):  # raised while iterating
        async with client.chat.completions.stream(model="alias", messages=_MESSAGES) as stream:
            async for _ in stream:
                pass


def test_usage_chunk_only_when_requested() -> None:
    request = msgspec.structs.replace(SETUPS["chat"].request, include_usage=False)
    without = encode_stream("chat", load_events("chat", "refusal-other"), request)
    assert b'"usage"' not in without
    assert without.endswith(sse.DONE)
    assert b'"finish_reason":"SPII"' in without


def test_decoded_upstream_reencodes_for_the_sdk() -> None:
    """Hub and spoke: a recorded upstream stream decodes, then encodes to a stream the SDK reads."""
    body = encode_stream("chat", decode_stream("chat", (GOLDEN / "minimax-tools.sse").read_bytes()))
    assert body.count(b'"role":"assistant"') == 1
    assert body.endswith(sse.DONE)


def test_reasoning_deltas_for_a_block_never_opened_are_sent_not_crashed_on() -> None:
    encoder = chat.StreamEncoder(ir.Request(model="m", messages=[]), created=1700000000)
    frames = encoder.feed(ir.MessageStart(id="x", model="m"))
    frames += encoder.feed(ir.ThinkingDelta(index=3, text="hmm"))
    frames += encoder.feed(ir.SignatureDelta(index=3, signature="sig"))
    frames += encoder.feed(ir.Finish(stop_reason="end"))
    text = b"".join(frames).decode()
    assert '"reasoning_content":"hmm"' in text and "data: [DONE]" in text
