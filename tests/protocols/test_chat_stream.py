"""Golden-fixture tests of the Chat Completions stream decoder and encoder, and SDK acceptance.

Expected files are rewritten only with PLEXUS_REGEN=1; read the diff before committing.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import httpx2 as httpx
import msgspec
import openai
import pytest

from plexus import ir, sse
from plexus.protocols import chat
from tests.conftest import FIXTURES, fixture_cases

GOLDEN = FIXTURES / "chat"
REGEN = os.environ.get("PLEXUS_REGEN") == "1"
_EVENTS = msgspec.json.Decoder(ir.StreamEvent)

UPSTREAM_CASES = fixture_cases(GOLDEN, ".sse", exclude=".chat.sse")
IR_CASES = fixture_cases(GOLDEN, ".ir.jsonl")


def _decode(data: bytes, sizes: list[int]) -> list[ir.StreamEvent]:
    """Feed `data` through sse.Decoder → StreamDecoder in chunks of the given sizes."""
    framer, decoder = sse.Decoder(), chat.StreamDecoder()
    events: list[ir.StreamEvent] = []
    position = 0
    for size in sizes:
        for event in framer.feed(data[position : position + size]):
            events.extend(decoder.feed(event))
        position += size
    for event in framer.flush():
        events.extend(decoder.feed(event))
    events.extend(decoder.finish())
    return events


def _jsonl(events: list[ir.StreamEvent]) -> str:
    return "".join(msgspec.json.encode(event).decode() + "\n" for event in events)


def _read_events(path: Path) -> list[ir.StreamEvent]:
    return [_EVENTS.decode(line) for line in path.read_text().splitlines() if line.strip()]


def _check(path: Path, actual: str) -> None:
    if REGEN or not path.exists():
        path.write_text(actual)
    assert actual == path.read_text()


@pytest.mark.parametrize("case", UPSTREAM_CASES)
def test_decoder_matches_golden_in_any_chunking(case: str) -> None:
    data = (GOLDEN / f"{case}.sse").read_bytes()
    whole = _decode(data, [len(data)])
    _check(GOLDEN / f"{case}.ir.jsonl", _jsonl(whole))
    assert _decode(data, [1] * len(data)) == whole
    rng = random.Random(case)
    sizes: list[int] = []
    while sum(sizes) < len(data):
        sizes.append(rng.randint(1, 64))
    assert _decode(data, sizes) == whole


@pytest.mark.parametrize("case", UPSTREAM_CASES)
def test_decoded_blocks_are_opened_before_deltas_and_closed(case: str) -> None:
    data = (GOLDEN / f"{case}.sse").read_bytes()
    open_blocks: set[int] = set()
    for event in _decode(data, [len(data)]):
        match event:
            case ir.BlockStart():
                assert event.index not in open_blocks
                open_blocks.add(event.index)
            case ir.BlockStop():
                open_blocks.remove(event.index)
            case (
                ir.TextDelta() | ir.ThinkingDelta() | ir.SignatureDelta() | ir.ToolArgumentsDelta()
            ):
                assert event.index in open_blocks
            case ir.Finish() | ir.StreamError():
                assert not open_blocks


def _encode(events: list[ir.StreamEvent], include_usage: bool = True) -> bytes:
    request = ir.Request(model="alias", messages=[], stream=True, include_usage=include_usage)
    encoder = chat.StreamEncoder(request, created=1700000000)
    frames = [frame for event in events for frame in encoder.feed(event)]
    frames += encoder.finish()
    return b"".join(frames)


@pytest.mark.parametrize("case", IR_CASES)
def test_encoder_matches_golden(case: str) -> None:
    events = _read_events(GOLDEN / f"{case}.ir.jsonl")
    _check(GOLDEN / f"{case}.chat.sse", _encode(events).decode())


def _sdk_client(body: bytes) -> openai.AsyncOpenAI:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    http_client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return openai.AsyncOpenAI(
        api_key="k", base_url="http://gateway/v1", http_client=http_client, max_retries=0
    )


_MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    "case",
    [c for c in IR_CASES if "error" not in c and c not in ("truncated", "missing-terminator")],
)
async def test_sdk_stream_helper_accepts_encoded_stream(case: str) -> None:
    events = _read_events(GOLDEN / f"{case}.ir.jsonl")
    client = _sdk_client(_encode(events))
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
    texts = "".join(e.text for e in events if isinstance(e, ir.TextDelta))
    assert (choice.message.content or "") + (choice.message.refusal or "") == texts
    assert final.usage is not None


async def test_sdk_accumulates_reasoning_details_for_the_round_trip() -> None:
    events = _read_events(GOLDEN / "foreign-reasoning.ir.jsonl")
    client = _sdk_client(_encode(events))
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


@pytest.mark.parametrize("case", ["error-open-block", "truncated"])
async def test_sdk_raises_on_encoded_error_frame(case: str) -> None:
    events = _read_events(GOLDEN / f"{case}.ir.jsonl")
    client = _sdk_client(_encode(events))
    with pytest.raises(openai.APIError):  # raised while iterating
        async with client.chat.completions.stream(model="alias", messages=_MESSAGES) as stream:
            async for _ in stream:
                pass


def test_usage_chunk_only_when_requested() -> None:
    events = _read_events(GOLDEN / "refusal-other.ir.jsonl")
    without = _encode(events, include_usage=False)
    assert b'"usage"' not in without
    assert without.endswith(sse.DONE)
    assert b'"finish_reason":"SPII"' in without


def test_decoded_upstream_reencodes_for_the_sdk() -> None:
    """Hub and spoke: a recorded upstream stream decodes, then encodes to a stream the SDK reads."""
    data = (GOLDEN / "minimax-tools.sse").read_bytes()
    body = _encode(_decode(data, [len(data)]))
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
