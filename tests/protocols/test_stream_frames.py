"""Per-token frames, which every StreamEncoder builds by concatenation around a cached template:
each is the canonical JSON of its event, and the protocol's own StreamDecoder reads back the
exact text, for text that needs escaping and past one-digit Responses sequence numbers."""

from __future__ import annotations

import json

import msgspec
import pytest

from plexus import ir, sse
from plexus.ir import ApiType
from plexus.protocols import CODECS, codec_for
from plexus.protocols.frames import DELTA_MARKER, SEQUENCE_MARKER, DeltaTemplates

APIS: list[ApiType] = list(CODECS)
_ODD = ['quote " slash \\ ', "line\nbreak\ttab", "\x00\x1f\x7f", "é€😀", "\u2028\u2029", "</b>"]
_ARGUMENTS = json.dumps({"city": "".join(_ODD)}, ensure_ascii=False)
_REQUEST = ir.Request(
    model="m", messages=[ir.Message("user", [ir.TextBlock("hi")])], tools=[ir.Tool("get_weather")]
)


def _ir_stream() -> list[ir.StreamEvent]:
    events: list[ir.StreamEvent] = [ir.MessageStart(id="msg_1", model="up")]
    events += [ir.BlockStart(0, ir.ThinkingBlock(origin="anthropic"))]
    events += [ir.ThinkingDelta(0, text) for text in _ODD]
    events += [ir.SignatureDelta(0, "sig"), ir.BlockStop(0), ir.BlockStart(1, ir.TextBlock(""))]
    events += [ir.TextDelta(1, text) for text in _ODD * 2]
    events += [ir.BlockStop(1), ir.BlockStart(2, ir.ToolCallBlock("call_1", "get_weather"))]
    pieces = [_ARGUMENTS[i : i + 5] for i in range(0, len(_ARGUMENTS), 5)]
    events += [ir.ToolArgumentsDelta(2, piece) for piece in pieces]
    return [*events, ir.BlockStop(2), ir.Finish("tool_use")]


def _events(api: ApiType) -> list[sse.Event]:
    encoder = codec_for(api).StreamEncoder(_REQUEST)
    frames = [frame for event in _ir_stream() for frame in encoder.feed(event)]
    framing = sse.Decoder()
    return [event for frame in [*frames, *encoder.finish()] for event in framing.feed(frame)]


@pytest.mark.parametrize("api", APIS)
def test_every_frame_is_canonical_json(api: ApiType) -> None:
    for event in _events(api):
        if event.data != "[DONE]":
            assert msgspec.json.encode(msgspec.json.decode(event.data)).decode() == event.data


@pytest.mark.parametrize("api", APIS)
def test_streamed_text_reads_back_exactly(api: ApiType) -> None:
    decoder = codec_for(api).StreamDecoder()
    events = [out for event in _events(api) for out in decoder.feed(event)] + decoder.finish()
    text = "".join(event.text for event in events if isinstance(event, ir.TextDelta))
    # Only the first thinking block: chat re-reads its closing signed detail as a second one.
    thinking = "".join(e.text for e in events if isinstance(e, ir.ThinkingDelta) and e.index == 0)
    arguments = "".join(e.json for e in events if isinstance(e, ir.ToolArgumentsDelta))
    assert text == "".join(_ODD) * 2
    assert thinking == "".join(_ODD)
    assert json.loads(arguments) == json.loads(_ARGUMENTS)  # Gemini sends arguments whole


def test_responses_sequence_numbers_count_every_event() -> None:
    numbers = [json.loads(event.data)["sequence_number"] for event in _events("responses")]
    assert numbers == list(range(len(numbers)))
    assert len(numbers) > 10


def test_delta_templates_fill_value_and_sequence_into_the_built_frame() -> None:
    built: list[str] = []

    def build(kind: str) -> bytes:
        built.append(kind)
        payload = {"sequence_number": SEQUENCE_MARKER, "kind": kind, "delta": DELTA_MARKER}
        return msgspec.json.encode(payload)

    templates: DeltaTemplates[str] = DeltaTemplates(build, sequenced=True)
    for sequence, value in enumerate(_ODD):
        frame = templates.render("text", value, sequence + 9)
        assert json.loads(frame) == {
            "sequence_number": sequence + 9,
            "kind": "text",
            "delta": value,
        }
    assert built == ["text"]  # built once per key
    templates.clear()
    templates.render("text", "x")
    assert built == ["text", "text"]
