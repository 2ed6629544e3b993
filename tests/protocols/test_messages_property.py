"""Property tests: random valid Messages requests decode, and IR survives encode -> decode."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plexus import ir
from plexus.protocols import messages
from tests.mocks.messages_upstream import validate

_text = st.text(min_size=1, max_size=20)
# Whitespace-only text, ASCII and not: common as a stop sequence ("\n"), refused by Anthropic.
_blank = st.text(" \t\n\r\x0b\x0c\x85\xa0\u2028\u3000", min_size=1, max_size=3)
_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_-]{0,10}", fullmatch=True)
_cache = st.none() | st.just({"type": "ephemeral"})


def _text_block() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda text, cache: (
            {"type": "text", "text": text} | ({"cache_control": cache} if cache else {})
        ),
        _text,
        _cache,
    )


_image = st.sampled_from(
    [
        {"type": "image", "source": {"type": "url", "url": "https://e.com/i.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0lG"}},
    ]
)


@st.composite
def _conversation(draw: st.DrawFn) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for turn in range(draw(st.integers(1, 3))):
        user = draw(st.lists(_text_block() | _image, min_size=1, max_size=3))
        turns.append({"role": "user", "content": user})
        call_ids = [f"toolu_{turn}_{n}" for n in range(draw(st.integers(0, 2)))]
        assistant: list[dict[str, Any]] = []
        if draw(st.booleans()):
            assistant.append({"type": "thinking", "thinking": draw(_text), "signature": "sig"})
        assistant.extend(draw(st.lists(_text_block(), max_size=2)))
        assistant.extend(
            {"type": "tool_use", "id": call_id, "name": draw(_names), "input": {"k": draw(_text)}}
            for call_id in call_ids
        )
        if not assistant:
            continue
        turns.append({"role": "assistant", "content": assistant})
        if call_ids:
            results = [
                {"type": "tool_result", "tool_use_id": call_id, "content": draw(_text)}
                for call_id in call_ids
            ]
            turns.append({"role": "user", "content": results})
    if turns[-1]["role"] == "assistant":
        turns.append({"role": "user", "content": draw(_text)})
    return turns


@st.composite
def _requests(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": draw(_names),
        "max_tokens": draw(st.integers(1, 100_000)),
        "messages": draw(_conversation()),
    }
    optional = {
        "system": _text | st.lists(_text_block(), min_size=1, max_size=2),
        "temperature": st.floats(0, 1),
        "top_p": st.floats(0, 1),
        "top_k": st.integers(0, 500),
        "stop_sequences": st.lists(_text | _blank, max_size=3),
        "stream": st.booleans(),
        "metadata": st.builds(lambda user: {"user_id": user}, _text),
        "tool_choice": st.sampled_from([{"type": "auto"}, {"type": "none"}, {"type": "any"}]),
        "thinking": st.sampled_from([{"type": "disabled"}, {"type": "adaptive"}]),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            body[name] = draw(strategy)
    return body


@settings(max_examples=150, deadline=None)
@given(_requests())
def test_random_valid_requests_decode_and_re_encode_validly(body: dict[str, Any]) -> None:
    request = messages.decode_request(json.dumps(body).encode())
    assert request.model == body["model"]
    encoded = messages.encode_request(request)
    validate(encoded)
    again = messages.decode_request(json.dumps(encoded).encode())
    _assert_shared_fields_equal(request, again)


def _texts(request: ir.Request) -> list[str]:
    return [
        block.text
        for message in request.messages
        for block in message.content
        if isinstance(block, ir.TextBlock)
    ]


def _assert_shared_fields_equal(first: ir.Request, second: ir.Request) -> None:
    assert second.model == first.model
    assert [block.text for block in second.system] == [block.text for block in first.system]
    # Anthropic refuses whitespace-only stop sequences, so the encoder drops them; the others
    # travel in order.
    assert second.stop == [stop for stop in first.stop if stop.strip()]
    assert second.user == first.user
    assert second.stream == first.stream
    assert _texts(second) == _texts(first)
    assert [tool.name for tool in second.tools] == [tool.name for tool in first.tools]
    if first.reasoning is None or not first.reasoning.enabled:
        assert second.max_tokens == first.max_tokens
        assert second.temperature == first.temperature
        assert second.top_k == first.top_k
    calls = [
        (block.id, json.loads(block.arguments))
        for message in first.messages
        for block in message.content
        if isinstance(block, ir.ToolCallBlock)
    ]
    calls_again = [
        (block.id, json.loads(block.arguments))
        for message in second.messages
        for block in message.content
        if isinstance(block, ir.ToolCallBlock)
    ]
    assert calls_again == calls
