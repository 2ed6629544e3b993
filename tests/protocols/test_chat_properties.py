"""Property tests: random valid Chat requests decode, and IR → chat → IR keeps the shared fields."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from plexus import ir
from plexus.protocols import chat

_text = st.text(min_size=1, max_size=20)
_name = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_-]{0,10}", fullmatch=True)
_call_id = st.from_regex(r"call_[a-zA-Z0-9]{1,12}", fullmatch=True)
_arguments = st.dictionaries(_name, st.integers() | st.text(max_size=5), max_size=3).map(
    lambda value: msgspec.json.encode(value).decode()
)


@st.composite
def _wire_messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append(
            {"role": draw(st.sampled_from(["system", "developer"])), "content": draw(_text)}
        )
    for _ in range(draw(st.integers(1, 3))):
        content: Any = draw(
            _text
            | st.lists(
                st.builds(lambda t: {"type": "text", "text": t}, _text), min_size=1, max_size=3
            )
        )
        messages.append({"role": "user", "content": content})
        ids = draw(st.lists(_call_id, max_size=3, unique=True))
        calls = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": draw(_name), "arguments": draw(_arguments)},
            }
            for call_id in ids
        ]
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": draw(st.none() | _text) if calls else draw(_text),
        }
        if calls:
            assistant["tool_calls"] = calls
        if draw(st.booleans()):
            assistant["reasoning_content"] = draw(_text)
        messages.append(assistant)
        messages += [
            {"role": "tool", "tool_call_id": call_id, "content": draw(_text)} for call_id in ids
        ]
    return messages


_wire_settings = st.fixed_dictionaries(
    {},
    optional={
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "max_tokens": st.integers(1, 10_000),
        "max_completion_tokens": st.integers(1, 10_000),
        "stop": _text | st.lists(_text, max_size=4),
        "seed": st.integers(0, 2**31),
        "reasoning_effort": st.sampled_from(
            ["none", "minimal", "low", "medium", "high", "xhigh", "max"]
        ),
        "stream": st.booleans(),
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "parallel_tool_calls": st.booleans(),
        "response_format": st.sampled_from([{"type": "text"}, {"type": "json_object"}]),
    },
)


@settings(max_examples=150, deadline=None)
@given(messages=_wire_messages(), options=_wire_settings)
def test_random_valid_requests_decode(
    messages: list[dict[str, Any]], options: dict[str, Any]
) -> None:
    body = {"model": "m", "messages": messages, **options}
    request = chat.decode_request(msgspec.json.encode(body))
    assert request.messages and request.messages[0].role == "user"
    calls = [b for m in request.messages for b in m.content if isinstance(b, ir.ToolCallBlock)]
    results = [b for m in request.messages for b in m.content if isinstance(b, ir.ToolResultBlock)]
    assert [c.id for c in calls] == [r.call_id for r in results]
    assert all(r.name == c.name for c, r in zip(calls, results, strict=True))


@st.composite
def _ir_requests(draw: st.DrawFn) -> ir.Request:
    messages: list[ir.Message] = []
    for _ in range(draw(st.integers(1, 3))):
        prefix: list[ir.Block] = []
        if messages and messages[-1].role == "assistant":
            prefix = [
                ir.ToolResultBlock(
                    call_id=b.id, name=b.name, content=[ir.TextBlock(text=draw(_text))]
                )
                for b in messages[-1].content
                if isinstance(b, ir.ToolCallBlock)
            ]
        messages.append(ir.Message(role="user", content=[*prefix, ir.TextBlock(text=draw(_text))]))
        ids = draw(st.lists(_call_id, max_size=3, unique=True))
        assistant: list[ir.Block] = [ir.TextBlock(text=draw(_text))]
        assistant += [
            ir.ToolCallBlock(id=i, name=draw(_name), arguments=draw(_arguments)) for i in ids
        ]
        messages.append(ir.Message(role="assistant", content=assistant))
    tools = [
        ir.Tool(name=n, description=draw(st.none() | _text))
        for n in draw(st.lists(_name, max_size=3, unique=True))
    ]
    return ir.Request(
        model="m",
        messages=messages,
        system=draw(st.lists(st.builds(ir.TextBlock, text=_text), max_size=1)),
        tools=tools,
        tool_choice=draw(
            st.none()
            | st.sampled_from([ir.ToolChoice(mode="auto"), ir.ToolChoice(mode="required")])
        ),
        max_tokens=draw(st.none() | st.integers(1, 10_000)),
        temperature=draw(st.none() | st.floats(0, 2)),
        top_p=draw(st.none() | st.floats(0, 1)),
        stop=draw(st.lists(_text, max_size=4)),
        seed=draw(st.none() | st.integers(0, 2**31)),
        reasoning=draw(
            st.none() | st.builds(ir.Reasoning, effort=st.sampled_from(["low", "medium", "high"]))
        ),
        stream=draw(st.booleans()),
    )


@settings(max_examples=150, deadline=None)
@given(request=_ir_requests())
def test_ir_round_trips_through_chat(request: ir.Request) -> None:
    body = msgspec.json.encode(chat.encode_request(request))
    again = chat.decode_request(body)
    assert again.messages == request.messages
    assert again.system == request.system
    assert again.tools == request.tools
    # tool_choice only travels with tools: chat upstreams reject it alone.
    assert again.tool_choice == (request.tool_choice if request.tools else None)
    shared = ("max_tokens", "temperature", "top_p", "stop", "seed", "reasoning", "stream")
    assert all(getattr(again, field) == getattr(request, field) for field in shared)
    assert again.include_usage == request.stream
