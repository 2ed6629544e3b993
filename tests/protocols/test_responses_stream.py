"""Golden fixtures for the Responses stream converters (style.md rule 9).

Upstream `<case>.sse` → StreamDecoder → `<case>.ir.jsonl`, fed whole, in 1-byte and in random
chunks; every `<case>.ir.jsonl` → StreamEncoder → `<case>.responses.sse` (ids and clocks
normalised), which the openai SDK's own stream accumulator must accept.
Regenerate expected files with PLEXUS_REGEN=1 and read the diff.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import httpx2
import msgspec
import openai
import pytest

from plexus import ir, sse
from plexus.protocols import responses
from plexus.protocols.responses.response import status_of
from tests.conftest import FIXTURES, fixture_cases

GOLDEN = FIXTURES / "responses"
REGEN = os.environ.get("PLEXUS_REGEN") == "1"
UPSTREAM_CASES = fixture_cases(GOLDEN, ".sse", exclude=".responses.sse")
IR_CASES = fixture_cases(GOLDEN, ".ir.jsonl")
_events = msgspec.json.Decoder(ir.StreamEvent)
_REQUEST = ir.Request(
    model="gpt-x",
    messages=[ir.Message("user", [ir.TextBlock("hi")])],
    tools=[ir.Tool("get_weather", parameters={"type": "object"}), ir.Tool("get_time")],
)


def _decode(chunks: list[bytes]) -> list[ir.StreamEvent]:
    framing = sse.Decoder()
    decoder = responses.StreamDecoder()
    out: list[ir.StreamEvent] = []
    for chunk in chunks:
        for event in framing.feed(chunk):
            out.extend(decoder.feed(event))
    for event in framing.flush():
        out.extend(decoder.feed(event))
    return out + decoder.finish()


def _split(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    chunks: list[bytes] = []
    while data:
        size = rng.randint(1, 40)
        chunks.append(data[:size])
        data = data[size:]
    return chunks


def _check(path: Path, actual: str) -> None:
    if REGEN or not path.exists():
        path.write_text(actual)
    assert actual == path.read_text()


@pytest.mark.parametrize("case", UPSTREAM_CASES)
def test_decoder_matches_golden_ir_in_any_chunking(case: str) -> None:
    data = (GOLDEN / f"{case}.sse").read_bytes()
    whole = _decode([data])
    assert _decode([data[i : i + 1] for i in range(len(data))]) == whole
    for seed in range(3):
        assert _decode(_split(data, seed)) == whole
    lines = "".join(msgspec.json.encode(event).decode() + "\n" for event in whole)
    _check(GOLDEN / f"{case}.ir.jsonl", lines)


def _load_ir(case: str) -> list[ir.StreamEvent]:
    text = (GOLDEN / f"{case}.ir.jsonl").read_text()
    return [_events.decode(line) for line in text.splitlines() if line]


def _encode(events: list[ir.StreamEvent]) -> bytes:
    encoder = responses.StreamEncoder(_REQUEST)
    out = [chunk for event in events for chunk in encoder.feed(event)]
    return b"".join(out + encoder.finish())


def _normalise(data: bytes) -> str:
    text = data.decode()
    ids: dict[str, str] = {}

    def stable(match: re.Match[str]) -> str:
        return ids.setdefault(match.group(0), f"{match.group(1)}_{len(ids)}")

    text = re.sub(r"\b(resp|msg|fc|rs)_[0-9a-f]{24}\b", stable, text)
    return re.sub(r'"(created_at|completed_at)":\d+', r'"\1":0', text)


@pytest.mark.parametrize("case", IR_CASES)
def test_encoder_matches_golden_sse(case: str) -> None:
    actual = _normalise(_encode(_load_ir(case)))
    _check(GOLDEN / f"{case}.responses.sse", actual)


def _sdk_stream(data: bytes) -> tuple[list[str], openai.types.responses.Response | None]:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=data, headers={"content-type": "text/event-stream"})

    http_client = httpx2.Client(transport=httpx2.MockTransport(answer))
    client = openai.OpenAI(api_key="k", base_url="http://plexus.test/v1", http_client=http_client)
    seen: list[str] = []
    with client.responses.stream(model="gpt-x", input="hi") as stream:
        seen.extend(event.type for event in stream)
        try:
            return seen, stream.get_final_response()
        except RuntimeError:
            return seen, None


@pytest.mark.parametrize("case", IR_CASES)
def test_sdk_accepts_encoded_stream(case: str) -> None:
    events = _load_ir(case)
    data = _encode(events)
    seen, final = _sdk_stream(data)
    assert seen[0] == "response.created"
    numbers = [int(n) for n in re.findall(rb'"sequence_number":(\d+)', data)]
    assert numbers == list(range(len(numbers)))
    finish = next((e for e in events if isinstance(e, ir.Finish)), None)
    if finish is None or status_of(finish.stop_reason)[0] != "completed":
        assert final is None
        assert seen[-1] in ("response.failed", "response.incomplete")
        return
    assert final is not None and final.status == "completed"
    texts = "".join(e.text for e in events if isinstance(e, ir.TextDelta))
    assert final.output_text == texts
    arguments = [item.arguments for item in final.output if item.type == "function_call"]
    streamed: dict[int, str] = {}
    for event in events:
        if isinstance(event, ir.ToolArgumentsDelta):
            streamed[event.index] = streamed.get(event.index, "") + event.json
    assert arguments == [streamed[i] for i in sorted(streamed)]


def test_missing_terminator_closes_blocks_then_errors() -> None:
    events = _decode([(GOLDEN / "missing-terminator.sse").read_bytes()])
    assert isinstance(events[-1], ir.StreamError)
    assert isinstance(events[-2], ir.BlockStop)


def test_stream_error_becomes_error_then_failed() -> None:
    encoder = responses.StreamEncoder(_REQUEST)
    encoder.feed(ir.MessageStart("x", "m"))
    out = b"".join(encoder.feed(ir.StreamError("boom", "rate_limit", 429)))
    assert out.index(b"event: error") < out.index(b"event: response.failed")
    assert b'"code":"rate_limit_exceeded"' in out
    assert encoder.finish() == []


def test_encoder_finish_without_terminal_fails_the_response() -> None:
    encoder = responses.StreamEncoder(_REQUEST)
    encoder.feed(ir.MessageStart("x", "m"))
    encoder.feed(ir.BlockStart(0, ir.TextBlock("")))
    tail = b"".join(encoder.feed(ir.TextDelta(0, "hi")) + encoder.finish())
    assert b"response.output_item.done" in tail and tail.rstrip().endswith(b"}")
    assert b"event: response.failed" in tail


def test_unexpected_shapes_are_skipped_but_garbage_fails() -> None:
    decoder = responses.StreamDecoder()
    odd = sse.Event("response.audio.delta", '{"type":"response.audio.delta","delta":5}')
    assert decoder.feed(odd) == []
    failed = decoder.feed(sse.Event(None, "{not json"))
    assert isinstance(failed[-1], ir.StreamError)
    assert decoder.feed(sse.Event(None, "data: [DONE]")) == [] and decoder.finish() == []
