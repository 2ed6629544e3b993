"""Property tests: random valid Gemini bodies decode, and decode(encode(ir)) keeps shared fields."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plexus import ir
from plexus.protocols import gemini

_text = st.text(min_size=1, max_size=20)
_part = st.one_of(
    st.builds(lambda t: {"text": t}, _text),
    st.builds(lambda t: {"text": t, "thought": True}, _text),
    st.builds(
        lambda d: {"inline_data": {"mime_type": "image/png", "data": d}},
        st.text("ABCD", min_size=4),
    ),
    st.builds(
        lambda n, a, s: {"functionCall": {"name": n, "args": {"a": a}}, "thoughtSignature": s},
        st.sampled_from(["f", "g"]),
        st.integers(),
        st.text("abc=", min_size=1, max_size=8),
    ),
    st.builds(
        lambda n, o: {"function_response": {"name": n, "response": {"output": o}}},
        st.sampled_from(["f", "g"]),
        _text,
    ),
)
_content = st.fixed_dictionaries(
    {"parts": st.lists(_part, min_size=1, max_size=4)},
    optional={"role": st.sampled_from(["user", "model"])},
)
_generation = st.fixed_dictionaries(
    {},
    optional={
        "maxOutputTokens": st.integers(1, 10_000),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "topK": st.integers(1, 100),
        "stop_sequences": st.lists(_text, max_size=5),
        "seed": st.integers(0, 2**31),
        "thinkingConfig": st.fixed_dictionaries(
            {},
            optional={
                "thinkingBudget": st.integers(-1, 32768),
                "includeThoughts": st.booleans(),
            },
        ),
    },
)
_body = st.fixed_dictionaries(
    {"contents": st.lists(_content, min_size=1, max_size=5)},
    optional={
        "generationConfig": _generation,
        "systemInstruction": st.builds(lambda t: {"parts": [{"text": t}]}, _text),
    },
)


@given(_body)
@settings(max_examples=150, deadline=None)
def test_random_valid_bodies_decode_and_reencode(body: dict[str, Any]) -> None:
    request = gemini.decode_request(json.dumps(body).encode())
    request.model = "gemini-2.5-flash"
    blocks = [b for m in request.messages for b in m.content]
    if any(not isinstance(b, ir.ThinkingBlock) for b in blocks):
        gemini.encode_request(request)


def _alternating(texts: list[str]) -> list[ir.Message]:
    roles: tuple[ir.Role, ir.Role] = ("user", "assistant")
    return [
        ir.Message(role=roles[i % 2], content=[ir.TextBlock(text=t)]) for i, t in enumerate(texts)
    ]


@given(
    texts=st.lists(_text, min_size=1, max_size=5),
    system=st.lists(_text, max_size=2),
    max_tokens=st.none() | st.integers(1, 100_000),
    temperature=st.none() | st.floats(0, 2),
    top_p=st.none() | st.floats(0, 1),
    top_k=st.none() | st.integers(1, 500),
    stop=st.lists(_text, max_size=5),
    seed=st.none() | st.integers(0, 2**31),
)
@settings(max_examples=150, deadline=None)
def test_decode_of_encode_keeps_shared_fields(
    texts: list[str],
    system: list[str],
    max_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    top_k: int | None,
    stop: list[str],
    seed: int | None,
) -> None:
    original = ir.Request(
        model="gemini-2.5-flash",
        messages=_alternating(texts),
        system=[ir.TextBlock(text=t) for t in system],
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        stop=stop,
        seed=seed,
    )
    back = gemini.decode_request(json.dumps(gemini.encode_request(original)).encode())
    assert back.messages == original.messages
    assert back.system == original.system
    shared = ("max_tokens", "temperature", "top_p", "top_k", "stop", "seed")
    assert [getattr(back, f) for f in shared] == [getattr(original, f) for f in shared]
