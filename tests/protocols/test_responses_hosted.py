"""Hosted tool items (protocols/responses/hosted.py): decoded from clients and from OpenAI, sent
back to OpenAI as they came, shown to Responses clients (issue 11)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from openai.types.responses import Response

from plexus import ir
from plexus.protocols import responses
from tests.mocks.responses_upstream import validate
from tests.protocols.cases import (
    ANTHROPIC_SEARCH,
    CODE_RESULT_TEXT,
    CODE_TEXT,
    GEMINI_CODE,
    OPENAI_SEARCH,
    OPENAI_SEARCH_ITEM,
    SEARCH_RESULT_TEXT,
    SEARCH_TEXT,
    ServerTool,
    server_round,
)

CODE_ITEM: dict[str, Any] = {
    "id": "ci_01",
    "type": "code_interpreter_call",
    "status": "completed",
    "code": "print(6 * 7)",
    "container_id": "cntr_1",
    "outputs": [{"type": "logs", "logs": "42\n"}, {"type": "image", "url": "https://i.example/p"}],
}
ANSWER = {
    "type": "message",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "ok"}],
}


def _history(*items: dict[str, Any]) -> bytes:
    question = {"role": "user", "content": "Weather in Paris?"}
    follow_up = {"role": "user", "content": "And tomorrow?"}
    body = {"model": "m", "store": False, "input": [question, *items, ANSWER, follow_up]}
    return json.dumps(body).encode()


def _response(*output: dict[str, Any]) -> bytes:
    body = {"id": "resp_1", "model": "gpt", "status": "completed", "output": list(output)}
    return json.dumps(body).encode()


# --- decode ----------------------------------------------------------------------------------


def test_a_clients_hosted_items_decode_as_calls_keeping_the_item() -> None:
    assistant = responses.decode_request(_history(OPENAI_SEARCH_ITEM, CODE_ITEM)).messages[1]
    search, found, code, ran, answer = assistant.content
    assert isinstance(search, ir.ServerToolCallBlock) and isinstance(code, ir.ServerToolCallBlock)
    assert bytes(search.payload) == json.dumps(OPENAI_SEARCH_ITEM).encode()
    assert (search.name, json.loads(search.input)) == ("web_search", {"query": "weather Paris"})
    assert found == msgspec.structs.replace(OPENAI_SEARCH[1])
    assert (code.name, json.loads(code.input)) == ("code_execution", {"code": "print(6 * 7)"})
    assert ran == ir.ServerToolResultBlock(
        "ci_01", "code_execution", text="42\n(image: https://i.example/p)", origin="openai"
    )
    assert answer == ir.TextBlock("ok")


def test_an_item_the_gateway_made_comes_back_as_a_copy() -> None:
    made = {**OPENAI_SEARCH_ITEM, "id": "plx_anthropic_srvtoolu_01"}
    search, found = responses.decode_request(_history(made)).messages[1].content[:2]
    assert isinstance(search, ir.ServerToolCallBlock)
    assert (search.id, search.origin, bool(search.payload)) == ("srvtoolu_01", "anthropic", False)
    assert isinstance(found, ir.ServerToolResultBlock) and found.origin == "anthropic"


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ({"type": "search", "queries": ["a", "b"]}, {"query": "a b"}),
        ({"type": "open_page", "url": "https://e.com"}, {"url": "https://e.com"}),
        ({"type": "find_in_page", "url": "https://e.com", "pattern": "x"},
         {"url": "https://e.com", "pattern": "x"}),
    ],
)  # fmt: skip
def test_web_search_actions_decode_as_inputs(action: dict[str, Any], data: Any) -> None:
    item = {"id": "ws_2", "type": "web_search_call", "status": "completed", "action": action}
    call = responses.decode_response(_response(item)).content[0]
    assert isinstance(call, ir.ServerToolCallBlock) and json.loads(call.input) == data


def test_other_hosted_items_are_kept_as_calls() -> None:
    image = {"id": "ig_1", "type": "image_generation_call", "status": "completed", "result": "iVB"}
    response = responses.decode_response(_response(image, ANSWER))
    assert response.content == [
        ir.ServerToolCallBlock(
            "ig_1",
            "image_generation",
            origin="openai",
            payload=msgspec.Raw(json.dumps(image).encode()),
        ),
        ir.TextBlock("ok"),
    ]
    assert response.stop_reason == "end"  # a hosted call is no client tool call


# --- encode for a Responses upstream ---------------------------------------------------------


def test_a_clients_hosted_items_go_back_to_openai_as_they_came() -> None:
    body = responses.encode_request(
        responses.decode_request(_history(OPENAI_SEARCH_ITEM, CODE_ITEM))
    )
    validate(body)
    assert body["input"][1:3] == [OPENAI_SEARCH_ITEM, CODE_ITEM]


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        (ANTHROPIC_SEARCH, [SEARCH_TEXT, SEARCH_RESULT_TEXT]),
        (GEMINI_CODE, [CODE_TEXT, CODE_RESULT_TEXT]),
    ],
)
def test_other_families_tools_go_to_openai_as_text(blocks: ServerTool, expected: list[str]) -> None:
    body = responses.encode_request(server_round(*blocks))
    validate(body)
    parts = body["input"][1]["content"]
    assert [part["text"] for part in parts] == [*expected, "Sunny, 22°C."]


# --- encode for a Responses client -----------------------------------------------------------


def _client_output(*blocks: ir.Block) -> list[dict[str, Any]]:
    response = ir.Response(id="resp_1", model="m", content=list(blocks))
    body = responses.encode_response(response, ir.Request(model="m", messages=[]))
    Response.model_validate_json(body)  # the SDK's own types accept it
    output: list[dict[str, Any]] = json.loads(body)["output"]
    return output


def test_openai_items_reach_a_client_as_they_came() -> None:
    assert _client_output(*OPENAI_SEARCH) == [OPENAI_SEARCH_ITEM]


def test_an_anthropic_web_search_reaches_a_client_as_a_web_search_call() -> None:
    assert _client_output(*ANTHROPIC_SEARCH) == [
        {
            "id": "plx_anthropic_srvtoolu_01",
            "type": "web_search_call",
            "status": "completed",
            "action": {
                "type": "search",
                "query": "weather Paris",
                "sources": [{"type": "url", "url": "https://meteo.example/paris"}],
            },
        }
    ]


def test_gemini_code_execution_reaches_a_client_as_a_code_interpreter_call() -> None:
    failed = msgspec.structs.replace(GEMINI_CODE[1], text="NameError", is_error=True)
    assert _client_output(GEMINI_CODE[0], failed) == [
        {
            "id": "plx_gemini_exec_1",
            "type": "code_interpreter_call",
            "status": "failed",
            "code": "print(6 * 7)",
            "container_id": "",
            "outputs": [{"type": "logs", "logs": "NameError"}],
        }
    ]


def test_a_call_whose_result_never_came_is_incomplete() -> None:
    (item,) = _client_output(ANTHROPIC_SEARCH[0])
    assert item["status"] == "incomplete" and item["action"]["sources"] == []


def test_a_tool_with_no_item_reaches_a_client_as_text() -> None:
    fetch = ir.ServerToolCallBlock("srvtoolu_9", "web_fetch", '{"url": "https://e.com"}')
    (message,) = _client_output(fetch, ir.TextBlock("Read it."))
    texts = [part["text"] for part in message["content"]]
    assert texts == ["\n\n[web_fetch] https://e.com\n\n", "Read it."]  # on lines of its own


def test_the_items_come_back_as_copies_and_go_upstream_as_text() -> None:
    shown = _client_output(*ANTHROPIC_SEARCH)
    body = responses.encode_request(responses.decode_request(_history(*shown)))
    validate(body)
    texts = [part["text"] for part in body["input"][1]["content"]]
    assert texts == [SEARCH_TEXT, "[web_search result]\n- https://meteo.example/paris", "ok"]


# --- tools -----------------------------------------------------------------------------------


def test_code_interpreter_is_every_familys_code_execution() -> None:
    tools = [{"type": "code_interpreter", "container": {"type": "auto"}}]
    body = {"model": "m", "input": "x", "tools": tools, "tool_choice": {"type": "code_interpreter"}}
    request = responses.decode_request(json.dumps(body).encode())
    assert request.tools == [ir.Tool(name="code_execution", kind="code_execution")]
    assert request.tool_choice == ir.ToolChoice("tool", "code_execution")
    encoded = responses.encode_request(request)
    assert encoded["tools"] == tools and encoded["tool_choice"] == {"type": "code_interpreter"}
    request.tools = [ir.Tool(name="code_execution", kind="code_execution_20250825")]
    assert responses.encode_request(request)["tools"] == tools
