"""Property tests: any valid Responses body decodes; decode(encode(ir)) keeps the shared fields."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plexus import ir
from plexus.protocols import responses

_text = st.text(min_size=1, max_size=20)
_name = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
_part = st.one_of(
    st.builds(lambda t: {"type": "input_text", "text": t}, _text),
    st.builds(
        lambda u: {"type": "input_image", "image_url": u, "detail": "auto"},
        st.sampled_from(["https://a.test/x.png", "data:image/png;base64,AAAA"]),
    ),
)
_message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "system", "developer"]),
        "content": st.one_of(_text, st.lists(_part, min_size=1, max_size=3)),
    },
    optional={"type": st.just("message")},
)
_call = st.builds(
    lambda call_id, name: {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": "{}",
    },
    _name,
    _name,
)
_output = st.builds(
    lambda call_id, out: {"type": "function_call_output", "call_id": call_id, "output": out},
    _name,
    _text,
)
_reasoning = st.builds(
    lambda i, t, e: {
        "type": "reasoning",
        "id": "rs_" + i,
        "summary": [{"type": "summary_text", "text": t}],
        "encrypted_content": e,
    },
    _name,
    _text,
    _text,
)
_tool = st.one_of(
    st.builds(
        lambda n: {
            "type": "function",
            "name": n,
            "parameters": {"type": "object"},
            "strict": False,
        },
        _name,
    ),
    st.builds(lambda n: {"type": "function", "function": {"name": n}}, _name),
    st.just({"type": "web_search"}),
)
_body = st.fixed_dictionaries(
    {
        "model": _name,
        "input": st.one_of(
            _text, st.lists(st.one_of(_message, _call, _output, _reasoning), max_size=8)
        ),
    },
    optional={
        "instructions": _text,
        "tools": st.lists(_tool, max_size=3),
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "max_output_tokens": st.integers(16, 10000),
        "temperature": st.floats(0, 2),
        "reasoning": st.fixed_dictionaries(
            {}, optional={"effort": st.sampled_from(["low", "high"]), "summary": st.just("auto")}
        ),
        "store": st.booleans(),
        "stream": st.booleans(),
    },
)


@settings(max_examples=150, deadline=None)
@given(_body)
def test_valid_bodies_decode(body: dict[str, Any]) -> None:
    request = responses.decode_request(json.dumps(body).encode())
    assert request.model == body["model"]


def _turns(draw: st.DrawFn) -> list[ir.Message]:
    messages = [ir.Message("user", [ir.TextBlock(draw(_text))])]
    for turn in range(draw(st.integers(0, 3))):
        names = draw(st.lists(_name, max_size=2))
        calls = [ir.ToolCallBlock(f"call_{turn}_{i}", name, "{}") for i, name in enumerate(names)]
        lead: list[ir.Block] = (
            [ir.TextBlock(draw(_text))] if draw(st.booleans()) or not calls else []
        )
        messages.append(ir.Message("assistant", [*lead, *calls]))
        if calls:
            results: list[ir.Block] = [
                ir.ToolResultBlock(c.id, [ir.TextBlock(draw(_text))], name=c.name) for c in calls
            ]
            messages.append(ir.Message("user", results))
        else:
            messages.append(ir.Message("user", [ir.TextBlock(draw(_text))]))
    return messages


@st.composite
def _requests(draw: st.DrawFn) -> ir.Request:
    tools = [
        ir.Tool(n, parameters={"type": "object", "properties": {}}, strict=False)
        for n in draw(st.lists(_name, max_size=3, unique=True))
    ]
    return ir.Request(
        model=draw(_name),
        messages=_turns(draw),
        system=[ir.TextBlock(draw(_text))] if draw(st.booleans()) else [],
        tools=tools,
        tool_choice=draw(st.sampled_from([None, ir.ToolChoice("auto"), ir.ToolChoice("required")])),
        parallel_tool_calls=draw(st.sampled_from([None, True, False])),
        max_tokens=draw(st.one_of(st.none(), st.integers(16, 100000))),
        temperature=draw(st.one_of(st.none(), st.floats(0, 2))),
        top_p=draw(st.one_of(st.none(), st.floats(0, 1))),
        stream=draw(st.booleans()),
    )


@settings(max_examples=150, deadline=None)
@given(_requests())
def test_encode_then_decode_round_trips(request: ir.Request) -> None:
    body = json.dumps(responses.encode_request(request)).encode()
    back = responses.decode_request(body)
    assert back.messages == request.messages
    assert back.system == request.system
    assert back.tools == request.tools
    for field in (
        "model",
        "tool_choice",
        "parallel_tool_calls",
        "max_tokens",
        "temperature",
        "top_p",
        "stream",
    ):
        assert getattr(back, field) == getattr(request, field)
