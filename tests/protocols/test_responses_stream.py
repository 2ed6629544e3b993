"""Responses streams as the openai SDK reads them, and Responses-only converter behaviours.

The golden fixtures of every protocol are checked in test_streams.py; the encoder's ids and
clocks are normalised there.
"""

from __future__ import annotations

import json
import re

import httpx2
import openai
import pytest

from plexus import ir, sse
from plexus.protocols import responses
from plexus.protocols.responses import hosted
from plexus.protocols.responses.response import status_of
from tests.conftest import FIXTURES, fixture_cases
from tests.protocols.test_streams import SETUPS, encode_stream, load_events

IR_CASES = fixture_cases(FIXTURES / "responses", ".ir.jsonl")
_REQUEST = SETUPS["responses"].request


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
    events = load_events("responses", case)
    data = encode_stream("responses", events)
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
    contents = _contents(events)
    assert final.output_text == "".join(text for kind, text in contents if kind is ir.TextBlock)
    refusals = [
        part.refusal
        for item in final.output
        if item.type == "message"
        for part in item.content
        if part.type == "refusal"
    ]
    assert "".join(refusals) == "".join(text for kind, text in contents if kind is ir.RefusalBlock)
    arguments = [item.arguments for item in final.output if item.type == "function_call"]
    assert arguments == [text for kind, text in contents if kind is ir.ToolCallBlock]


_DELTAS = (
    "response.output_text.delta",
    "response.refusal.delta",
    "response.function_call_arguments.delta",
)
_DONE = {
    "response.output_text.done": "text",
    "response.refusal.done": "refusal",
    "response.function_call_arguments.done": "arguments",
}


@pytest.mark.parametrize("case", IR_CASES)
def test_deltas_add_up_to_what_done_events_carry(case: str) -> None:
    """protocols.md 3.7, invariant 6: a client that only reads deltas sees the same text."""
    streamed: dict[tuple[str, int, str], str] = {}
    done: dict[tuple[str, int, str], str] = {}
    framer = sse.Decoder()
    data = encode_stream("responses", load_events("responses", case))
    for event in [*framer.feed(data), *framer.flush()]:
        body = json.loads(event.data)
        kind = body["type"]
        key = (body.get("item_id", ""), body.get("content_index", 0), kind.rsplit(".", 1)[0])
        if kind in _DELTAS:
            streamed[key] = streamed.get(key, "") + body["delta"]
        elif kind in _DONE:
            done[key] = body[_DONE[kind]]
    assert streamed == done


def _contents(events: list[ir.StreamEvent]) -> list[tuple[type, str]]:
    """Each block's kind and whole text or arguments, its initial content included, by index."""
    kinds: dict[int, type] = {}
    texts: dict[int, str] = {}
    for event in events:
        match event:
            case ir.BlockStart(block=ir.TextBlock() | ir.RefusalBlock() as block):
                kinds[event.index], texts[event.index] = type(block), block.text
            case ir.BlockStart(block=ir.ToolCallBlock() as block):
                kinds[event.index], texts[event.index] = ir.ToolCallBlock, block.arguments
            case ir.BlockStart(block=ir.ServerToolCallBlock() | ir.ServerToolResultBlock() as tool):
                shown = hosted.as_text(tool)  # a tool with no item of its own is text
                if isinstance(shown, ir.TextBlock):
                    kinds[event.index], texts[event.index] = ir.TextBlock, shown.text
            case ir.TextDelta() | ir.ToolArgumentsDelta() if event.index in texts:
                more = event.text if isinstance(event, ir.TextDelta) else event.json
                texts[event.index] += more
    return [(kinds[index], texts[index]) for index in sorted(texts)]


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
