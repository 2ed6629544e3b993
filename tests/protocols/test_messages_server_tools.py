"""Anthropic server tool blocks (protocols/messages/server_tools.py): decoded from clients and
from Anthropic, sent back to Anthropic as they came, shown to Messages clients (issue 11)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import msgspec
import pytest

from plexus import ir
from plexus.protocols import messages
from tests.mocks.messages_upstream import validate
from tests.protocols.cases import (
    ANTHROPIC_SEARCH,
    ANTHROPIC_SEARCH_RESULT,
    ANTHROPIC_SEARCH_USE,
    CODE_RESULT_TEXT,
    CODE_TEXT,
    GEMINI_CODE,
    OPENAI_SEARCH,
    SEARCH_RESULT_TEXT,
    SEARCH_TEXT,
    ServerTool,
    decode_stream,
    frames,
    server_round,
)

WEB_SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search"}
CITED_TEXT = {
    "type": "text",
    "text": "Sunny, 22°C.",
    "citations": [
        {
            "type": "web_search_result_location",
            "url": "https://meteo.example/paris",
            "title": "Paris weather",
            "encrypted_index": "Eo8BCioIAhgBIiQ",
            "cited_text": "Sunny",
        }
    ],
}


def _history(*answer: dict[str, Any]) -> bytes:
    body = {
        "model": "m",
        "max_tokens": 256,
        "tools": [WEB_SEARCH_TOOL],
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": list(answer)},
            {"role": "user", "content": "And tomorrow?"},
        ],
    }
    return json.dumps(body).encode()


def _message(*content: dict[str, Any], stop: str = "end_turn") -> bytes:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": list(content),
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 5},
    }
    return json.dumps(body).encode()


# --- decode ----------------------------------------------------------------------------------


def test_a_clients_server_blocks_decode_with_their_exact_json() -> None:
    request = messages.decode_request(_history(ANTHROPIC_SEARCH_USE, ANTHROPIC_SEARCH_RESULT))
    call, result = request.messages[1].content
    assert isinstance(call, ir.ServerToolCallBlock) and isinstance(result, ir.ServerToolResultBlock)
    assert (call.id, call.name, call.origin) == ("srvtoolu_01", "web_search", "anthropic")
    assert json.loads(call.input) == {"query": "weather Paris"}
    assert bytes(call.payload) == json.dumps(ANTHROPIC_SEARCH_USE).encode()
    assert bytes(result.payload) == json.dumps(ANTHROPIC_SEARCH_RESULT).encode()
    assert result.sources == ANTHROPIC_SEARCH[1].sources
    assert (result.call_id, result.origin, result.is_error) == ("srvtoolu_01", "anthropic", False)


def test_a_shape_the_gateway_made_comes_back_as_a_copy_without_json() -> None:
    use = {**ANTHROPIC_SEARCH_USE, "id": "plx_openai_ws_01"}
    result = {**ANTHROPIC_SEARCH_RESULT, "tool_use_id": "plx_openai_ws_01"}
    call, found = messages.decode_request(_history(use, result)).messages[1].content
    assert isinstance(call, ir.ServerToolCallBlock) and isinstance(found, ir.ServerToolResultBlock)
    assert (call.id, call.origin, bool(call.payload)) == ("ws_01", "openai", False)
    assert (found.call_id, found.origin, bool(found.payload)) == ("ws_01", "openai", False)


@pytest.mark.parametrize(
    ("content", "text", "is_error"),
    [
        ({"type": "code_execution_result", "stdout": "42\n", "stderr": "", "return_code": 0,
          "content": []}, "42\n", False),
        ({"type": "bash_code_execution_result", "stdout": "", "stderr": "boom", "return_code": 2,
          "content": []}, "boom\n(exit code 2)", True),
        ({"type": "encrypted_code_execution_result", "encrypted_stdout": "E1", "stderr": "",
          "return_code": 0, "content": []}, "(output encrypted)", False),
        ({"type": "code_execution_tool_result_error", "error_code": "unavailable"},
         "unavailable", True),
        ({"type": "text_editor_code_execution_view_result", "content": "line 1",
          "file_type": "text"}, "line 1", False),
        ({"type": "text_editor_code_execution_str_replace_result", "lines": ["a", "b"]},
         "a\nb", False),
        ({"type": "tool_search_tool_search_result",
          "tool_references": [{"type": "tool_reference", "tool_name": "get_weather"}]},
         "get_weather", False),
    ],
)  # fmt: skip
def test_result_blocks_read_as_text(content: dict[str, Any], text: str, is_error: bool) -> None:
    kind = "code_execution" if "code" in content["type"] else "tool_search"
    if content["type"].startswith("bash"):
        kind = "bash_code_execution"
    elif content["type"].startswith("text_editor"):
        kind = "text_editor_code_execution"
    block = {"type": f"{kind}_tool_result", "tool_use_id": "srvtoolu_2", "content": content}
    result = messages.decode_response(_message(block)).content[0]
    assert isinstance(result, ir.ServerToolResultBlock)
    assert (result.name, result.text, result.is_error) == (kind, text, is_error)


def test_a_web_fetch_reads_as_its_page() -> None:
    fetched = {
        "type": "web_fetch_result",
        "url": "https://e.com/a",
        "retrieved_at": "2026-05-01T00:00:00Z",
        "content": {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "Page text"},
            "title": "A",
        },
    }
    block = {"type": "web_fetch_tool_result", "tool_use_id": "srvtoolu_3", "content": fetched}
    result = messages.decode_response(_message(block)).content[0]
    assert result == ir.ServerToolResultBlock(
        "srvtoolu_3",
        "web_fetch",
        text="Page text",
        sources=[ir.ServerToolSource("https://e.com/a")],
        origin="anthropic",
        payload=msgspec.Raw(json.dumps(block).encode()),
    )


def test_pause_turn_decodes_with_the_pending_call() -> None:
    response = messages.decode_response(_message(ANTHROPIC_SEARCH_USE, stop="pause_turn"))
    assert (response.stop_reason, response.raw_stop_reason) == ("pause", "pause_turn")
    assert isinstance(response.content[0], ir.ServerToolCallBlock)


# --- encode for an Anthropic upstream --------------------------------------------------------


def test_a_clients_server_blocks_go_back_to_anthropic_as_they_came() -> None:
    answer = (ANTHROPIC_SEARCH_USE, ANTHROPIC_SEARCH_RESULT, CITED_TEXT)
    body = messages.encode_request(messages.decode_request(_history(*answer)))
    validate(body)
    assert body["messages"][1]["content"][:2] == [ANTHROPIC_SEARCH_USE, ANTHROPIC_SEARCH_RESULT]
    assert body["tools"] == [WEB_SEARCH_TOOL]


def test_a_paused_turn_goes_back_with_its_pending_call_last() -> None:
    paused = json.loads(_history(ANTHROPIC_SEARCH_USE))
    paused["messages"].pop()  # the continuation: the paused assistant turn comes last
    body = messages.encode_request(messages.decode_request(json.dumps(paused).encode()))
    validate(body)
    assert body["messages"][-1] == {"role": "assistant", "content": [ANTHROPIC_SEARCH_USE]}


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        (OPENAI_SEARCH, [SEARCH_TEXT, "[web_search result]\n- https://meteo.example/paris"]),
        (GEMINI_CODE, [CODE_TEXT, CODE_RESULT_TEXT]),
    ],
)
def test_other_families_tools_go_to_anthropic_as_text(
    blocks: ServerTool, expected: list[str]
) -> None:
    body = messages.encode_request(server_round(*blocks))
    validate(body)
    content = body["messages"][1]["content"]
    assert content == [{"type": "text", "text": text} for text in [*expected, "Sunny, 22°C."]]


def test_an_anthropic_tool_without_its_json_goes_as_text() -> None:
    copies = [msgspec.structs.replace(block, payload=msgspec.Raw()) for block in ANTHROPIC_SEARCH]
    body = messages.encode_request(server_round(*copies))
    texts = [block["text"] for block in body["messages"][1]["content"]]
    assert texts == [SEARCH_TEXT, SEARCH_RESULT_TEXT, "Sunny, 22°C."]


# --- encode for a Messages client ------------------------------------------------------------


def _client_content(*blocks: ir.Block) -> list[dict[str, Any]]:
    response = ir.Response(id="msg_1", model="m", content=list(blocks))
    body = messages.encode_response(response, ir.Request(model="m", messages=[]))
    anthropic.types.Message.model_validate_json(body)  # the SDK's own types accept it
    content: list[dict[str, Any]] = json.loads(body)["content"]
    return content


def test_anthropic_blocks_reach_a_client_as_they_came() -> None:
    assert _client_content(*ANTHROPIC_SEARCH) == [ANTHROPIC_SEARCH_USE, ANTHROPIC_SEARCH_RESULT]


def test_a_responses_web_search_reaches_a_client_as_anthropics_under_a_tagged_id() -> None:
    use, result = _client_content(*OPENAI_SEARCH)
    assert use == {
        "type": "server_tool_use",
        "id": "plx_openai_ws_01",
        "name": "web_search",
        "input": {"query": "weather Paris"},
    }
    assert result["tool_use_id"] == "plx_openai_ws_01"
    assert result["content"] == [
        {
            "type": "web_search_result",
            "url": "https://meteo.example/paris",
            "title": "https://meteo.example/paris",
            "encrypted_content": "",
            "page_age": None,
        }
    ]


def test_gemini_code_execution_reaches_a_client_as_anthropics() -> None:
    use, result = _client_content(*GEMINI_CODE)
    assert use["input"] == {"code": "print(6 * 7)"} and use["name"] == "code_execution"
    assert result == {
        "type": "code_execution_tool_result",
        "tool_use_id": "plx_gemini_exec_1",
        "content": {
            "type": "code_execution_result",
            "stdout": "42\n",
            "stderr": "",
            "return_code": 0,
            "content": [],
        },
    }


def test_a_tool_with_no_anthropic_shape_reaches_a_client_as_text() -> None:
    generated = ir.ServerToolCallBlock("ig_1", "image_generation", origin="openai")
    assert _client_content(generated) == [{"type": "text", "text": "[image_generation]"}]


def test_the_shapes_come_back_as_copies_and_go_upstream_as_text() -> None:
    shown = _client_content(*OPENAI_SEARCH)
    request = messages.decode_request(_history(*shown, CITED_TEXT))
    body = messages.encode_request(request)
    validate(body)
    texts = [block.get("text") for block in body["messages"][1]["content"]]
    assert texts == [
        SEARCH_TEXT,
        "[web_search result]\n- https://meteo.example/paris",
        "Sunny, 22°C.",
    ]


# --- tools -----------------------------------------------------------------------------------


def test_code_execution_tools_map_to_anthropics_and_keep_their_version() -> None:
    ours = ir.Tool(name="code_execution", kind="code_execution")  # Gemini's, OpenAI's
    dated = {"type": "code_execution_20250522", "name": "code_execution"}
    request = messages.decode_request(
        json.dumps({"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "x"}],
                    "tools": [dated]}).encode()
    )  # fmt: skip
    assert request.tools == [ir.Tool(name="code_execution", kind="code_execution_20250522")]
    assert messages.encode_request(request)["tools"] == [dated]
    request.tools = [ours]
    body = messages.encode_request(request)
    validate(body)
    assert body["tools"] == [{"type": "code_execution_20250825", "name": "code_execution"}]


def test_a_streamed_server_call_with_broken_input_fails_the_stream() -> None:
    start = {**ANTHROPIC_SEARCH_USE, "input": {}}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "m", "content": []}},
        {"type": "content_block_start", "index": 0, "content_block": start},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": '{"query": "we'}},
        {"type": "content_block_stop", "index": 0},
    ]  # fmt: skip
    decoded = decode_stream(messages.StreamDecoder(), frames(events, named=True))
    assert [type(event).__name__ for event in decoded] == ["MessageStart", "StreamError"]
