"""Chat Completions has no server tools: other families' web searches and code runs travel as
readable text in the turn's content, for clients and upstreams alike (issue 11)."""

from __future__ import annotations

import json

from openai.types.chat import ChatCompletion

from plexus import ir
from plexus.protocols import chat
from tests.mocks.chat_upstream import validate
from tests.protocols.cases import (
    ANTHROPIC_SEARCH,
    CODE_RESULT_TEXT,
    CODE_TEXT,
    GEMINI_CODE,
    SEARCH_RESULT_TEXT,
    SEARCH_TEXT,
    server_round,
)

EXPECTED = (
    f"Checking.\n\n{SEARCH_TEXT}\n\n{SEARCH_RESULT_TEXT}\n\n{CODE_TEXT}\n\n"
    f"{CODE_RESULT_TEXT.rstrip()}\n\nSunny, 22°C."
)
BLOCKS: list[ir.Block] = [ir.TextBlock("Checking."), *ANTHROPIC_SEARCH, *GEMINI_CODE]


def test_server_tools_reach_a_chat_client_as_text_between_blank_lines() -> None:
    response = ir.Response(id="r", model="m", content=[*BLOCKS, ir.TextBlock("Sunny, 22°C.")])
    body = chat.encode_response(response, ir.Request(model="m", messages=[]))
    message = ChatCompletion.model_validate_json(body).choices[0].message
    assert message.content == EXPECTED and message.tool_calls is None
    assert json.loads(body)["choices"][0]["finish_reason"] == "stop"  # no client tool called


def test_server_tools_stream_to_a_chat_client_as_the_same_text() -> None:
    encoder = chat.StreamEncoder(ir.Request(model="m", messages=[], stream=True))
    events: list[ir.StreamEvent] = [ir.MessageStart("r", "m")]
    for index, block in enumerate([*BLOCKS, ir.TextBlock("Sunny, 22°C.")]):
        events += [ir.BlockStart(index, block), ir.BlockStop(index)]
    frames = [frame for event in [*events, ir.Finish("end")] for frame in encoder.feed(event)]
    chunks = [json.loads(frame[6:]) for frame in frames if frame.startswith(b"data: {")]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == EXPECTED


def test_server_tools_go_to_a_chat_upstream_as_assistant_text() -> None:
    body = chat.encode_request(server_round(*ANTHROPIC_SEARCH, *GEMINI_CODE))
    validate(body)
    assert body["messages"][1] == {
        "role": "assistant",
        "content": EXPECTED.removeprefix("Checking.\n\n"),
    }
