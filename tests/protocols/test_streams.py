"""Golden stream fixtures of every codec in the registry (style.md rule 9).

For each protocol `api` in `CODECS` and each case of tests/fixtures/README.md it has:
- `<case>.sse`, an upstream stream, goes through `sse.Decoder` and the codec's StreamDecoder,
  fed whole, in 1-byte and in random-sized chunks, and must give `<case>.ir.jsonl` each time;
- `<case>.ir.jsonl` goes through the codec's StreamEncoder and must give `<case>.<api>.sse`.
Expected files are written only with PLEXUS_REGEN=1 (both goldens of a new `.sse` in one run);
read them before committing. The per-protocol files import the helpers below for their SDK
acceptance tests.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from plexus import ir, sse
from plexus.ir import ApiType
from plexus.protocols import CODECS
from tests.conftest import FIXTURES, fixture_cases

REGEN = os.environ.get("PLEXUS_REGEN") == "1"
_EVENTS = msgspec.json.Decoder(ir.StreamEvent)


def _unchanged(text: str) -> str:
    return text


def _numbered(
    pattern: str, placeholder: Callable[[re.Match[str], int], str]
) -> Callable[[str], str]:
    """A rewrite of each distinct match of `pattern` to `placeholder(match, n)`, n counting the
    distinct values in order of appearance."""
    compiled = re.compile(pattern)

    def rewrite(text: str) -> str:
        seen: dict[str, str] = {}

        def stable(match: re.Match[str]) -> str:
            return seen.setdefault(match.group(0), placeholder(match, len(seen)))

        return compiled.sub(stable, text)

    return rewrite


_responses_ids = _numbered(r"\b(resp|msg|fc|rs)_[0-9a-f]{24}\b", lambda m, n: f"{m.group(1)}_{n}")


def _stable_responses_sse(text: str) -> str:
    return re.sub(r'"(created_at|completed_at)":\d+', r'"\1":0', _responses_ids(text))


def _stable_chat_sse(text: str) -> str:
    # The clock, pinned to the value the chat goldens were written with.
    return re.sub(r'"created":\d+', '"created":1700000000', text)


@dataclass(frozen=True)
class GoldenSetup:
    """What a protocol's goldens need besides its codec: the client request its StreamEncoder
    answers, and rewrites of what a run mints (ids, clocks) to stable values."""

    request: ir.Request
    stable_ir: Callable[[str], str] = _unchanged  # decoded IR, as JSON lines
    stable_sse: Callable[[str], str] = _unchanged  # encoded SSE text


SETUPS: dict[ApiType, GoldenSetup] = {
    "chat": GoldenSetup(
        ir.Request(model="alias", messages=[], stream=True, include_usage=True),
        stable_sse=_stable_chat_sse,
    ),
    "messages": GoldenSetup(ir.Request(model="claude-test", messages=[])),
    "responses": GoldenSetup(
        ir.Request(
            model="gpt-x",
            messages=[ir.Message("user", [ir.TextBlock("hi")])],
            tools=[ir.Tool("get_weather", parameters={"type": "object"}), ir.Tool("get_time")],
        ),
        stable_sse=_stable_responses_sse,
    ),
    # Gemini calls and code carry no id on the wire: the decoder mints `call_…`, `exec_…` ones.
    "gemini": GoldenSetup(
        ir.Request(model="gemini-client-model", messages=[]),
        stable_ir=_numbered(r"(call|exec)_[0-9a-f]{24}", lambda m, n: f"{m.group(1)}_minted{n}"),
    ),
}


def _upstream(api: ApiType, case: str) -> bytes:
    return (FIXTURES / api / f"{case}.sse").read_bytes()


def decode_stream(
    api: ApiType, data: bytes, sizes: list[int] | None = None
) -> list[ir.StreamEvent]:
    """Feed upstream bytes, in chunks of `sizes` (default: whole), through sse.Decoder and the
    protocol's StreamDecoder."""
    framer, decoder = sse.Decoder(), CODECS[api].StreamDecoder()
    events: list[ir.StreamEvent] = []
    position = 0
    for size in sizes or [len(data)]:
        for event in framer.feed(data[position : position + size]):
            events += decoder.feed(event)
        position += size
    assert position >= len(data)
    for event in framer.flush():
        events += decoder.feed(event)
    return events + decoder.finish()


def encode_stream(
    api: ApiType, events: list[ir.StreamEvent], request: ir.Request | None = None
) -> bytes:
    """Run IR events through the protocol's StreamEncoder (for the golden request by default)."""
    encoder = CODECS[api].StreamEncoder(request or SETUPS[api].request)
    frames = [frame for event in events for frame in encoder.feed(event)]
    return b"".join(frames + encoder.finish())


def load_events(api: ApiType, case: str) -> list[ir.StreamEvent]:
    """The IR events of a case."""
    lines = (FIXTURES / api / f"{case}.ir.jsonl").read_bytes().splitlines()
    return [_EVENTS.decode(line) for line in lines if line.strip()]


def _jsonl(events: list[ir.StreamEvent]) -> str:
    return "".join(msgspec.json.encode(event).decode() + "\n" for event in events)


def _check_golden(path: Path, actual: str) -> None:
    if REGEN:
        path.write_bytes(actual.encode())
    assert path.exists(), f"no {path.name}: run with PLEXUS_REGEN=1, then read it"
    assert actual == path.read_bytes().decode()


def _random_sizes(seed: str, length: int, largest: int) -> list[int]:
    rng = random.Random(seed)
    sizes: list[int] = []
    total = 0
    while total < length:
        sizes.append(rng.randint(1, largest))
        total += sizes[-1]
    return sizes


Case = tuple[ApiType, str]

UPSTREAM_CASES: list[Case] = [
    (api, case)
    for api in CODECS
    for case in fixture_cases(FIXTURES / api, ".sse", exclude=f".{api}.sse")
]
# An upstream case without its `.ir.jsonl` yet is an encoder case too, so one regeneration run
# writes both of its goldens (the decoder tests run first).
IR_CASES: list[Case] = sorted(
    {(api, case) for api in CODECS for case in fixture_cases(FIXTURES / api, ".ir.jsonl")}
    | set(UPSTREAM_CASES)
)
# Upstream streams that fail after a block opened (tests/fixtures/README.md).
FAILED_CASES: list[Case] = [
    (api, case)
    for api, case in UPSTREAM_CASES
    if case in ("error-mid-stream", "malformed-chunk", "missing-terminator")
]


def _ids(cases: list[Case]) -> list[str]:
    return [f"{api}/{case}" for api, case in cases]


def test_every_codec_has_a_golden_setup() -> None:
    assert SETUPS.keys() == CODECS.keys()


@pytest.mark.parametrize(("api", "case"), UPSTREAM_CASES, ids=_ids(UPSTREAM_CASES))
def test_decoder_matches_golden_in_any_chunking(api: ApiType, case: str) -> None:
    data = _upstream(api, case)

    def decoded(sizes: list[int]) -> str:
        return SETUPS[api].stable_ir(_jsonl(decode_stream(api, data, sizes)))

    whole = decoded([len(data)])
    assert decoded([1] * len(data)) == whole
    for largest in (16, 64, 256):
        assert decoded(_random_sizes(f"{api}/{case}/{largest}", len(data), largest)) == whole
    _check_golden(FIXTURES / api / f"{case}.ir.jsonl", whole)


@pytest.mark.parametrize(("api", "case"), UPSTREAM_CASES, ids=_ids(UPSTREAM_CASES))
def test_decoded_blocks_are_opened_before_deltas_and_closed(api: ApiType, case: str) -> None:
    events = decode_stream(api, _upstream(api, case))
    open_blocks: set[int] = set()
    for event in events:
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
    assert isinstance(events[-1], ir.Finish | ir.StreamError)
    assert sum(isinstance(event, ir.Finish | ir.StreamError) for event in events) == 1


@pytest.mark.parametrize(("api", "case"), FAILED_CASES, ids=_ids(FAILED_CASES))
def test_failed_upstream_closes_blocks_then_errors(api: ApiType, case: str) -> None:
    events = decode_stream(api, _upstream(api, case))
    assert isinstance(events[-2], ir.BlockStop)
    assert isinstance(events[-1], ir.StreamError)


@pytest.mark.parametrize(("api", "case"), IR_CASES, ids=_ids(IR_CASES))
def test_encoder_matches_golden(api: ApiType, case: str) -> None:
    encoded = encode_stream(api, load_events(api, case)).decode()
    _check_golden(FIXTURES / api / f"{case}.{api}.sse", SETUPS[api].stable_sse(encoded))


def _decoded_content(events: list[ir.StreamEvent]) -> int:
    """The characters of text, reasoning and tool arguments in decoded events."""
    total = 0
    for event in events:
        if isinstance(event, ir.TextDelta | ir.ThinkingDelta):
            total += len(event.text)
        elif isinstance(event, ir.ToolArgumentsDelta):
            total += len(event.json)
    return total


@pytest.mark.parametrize(("api", "case"), UPSTREAM_CASES, ids=_ids(UPSTREAM_CASES))
def test_content_length_counts_what_the_decoder_decodes(api: ApiType, case: str) -> None:
    # What a cut stream's output is estimated from: the content each event carries, read
    # without the decoder's state, is the content the decoder finds in the whole stream, and
    # the input of server tools (code, queries) besides, which the model generates too.
    data = _upstream(api, case)
    counted = sum(
        CODECS[api].content_length_of(event.data.encode()) for event in sse.Decoder().feed(data)
    )
    events = decode_stream(api, data)
    decoded = _decoded_content(events)
    server_tools = any(
        isinstance(event, ir.BlockStart) and isinstance(event.block, ir.ServerToolCallBlock)
        for event in events
    )
    if (api, case) in FAILED_CASES:
        assert counted >= decoded  # the decoder stops at the failure; the count goes on
    elif server_tools:
        assert counted > decoded
    else:
        assert counted == decoded
