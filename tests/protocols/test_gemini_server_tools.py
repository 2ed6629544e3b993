"""Gemini's code execution parts and search grounding (protocols/gemini/server_tools.py):
decoded from clients and from Gemini, sent back to Gemini as they came, shown to Gemini clients
(issue 11)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import msgspec
import pytest
from google import genai
from google.genai import types as gtypes

from plexus import ir
from plexus.protocols import gemini
from tests.mocks.gemini_upstream import validate
from tests.protocols.cases import (
    ANTHROPIC_SEARCH,
    GEMINI_CODE,
    GEMINI_CODE_PARTS,
    OPENAI_SEARCH,
    SEARCH_RESULT_TEXT,
    SEARCH_TEXT,
    ServerTool,
    server_round,
)

GROUNDING = {
    "webSearchQueries": ["weather Paris"],
    "groundingChunks": [{"web": {"uri": "https://meteo.example/paris", "title": "Paris weather"}}],
}


def _history(*parts: dict[str, Any]) -> bytes:
    contents = [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {"role": "model", "parts": [*parts, {"text": "Sunny, 22°C."}]},
        {"role": "user", "parts": [{"text": "And tomorrow?"}]},
    ]
    return json.dumps({"contents": contents}).encode()


def _answer(*parts: dict[str, Any], **candidate: Any) -> bytes:
    content = {"role": "model", "parts": list(parts)}
    body = {"candidates": [{"content": content, "finishReason": "STOP", **candidate}]}
    return json.dumps(body).encode()


def _encode(request: ir.Request) -> dict[str, Any]:
    request.model = "gemini-2.5-flash"
    body = gemini.encode_request(request)
    validate(body, request.model)
    return body


# --- decode ----------------------------------------------------------------------------------


def test_a_clients_code_execution_parts_decode_keeping_the_parts() -> None:
    call, result, answer = gemini.decode_request(_history(*GEMINI_CODE_PARTS)).messages[1].content
    assert isinstance(call, ir.ServerToolCallBlock) and isinstance(result, ir.ServerToolResultBlock)
    assert call.id.startswith("exec_") and result.call_id == call.id
    assert (call.name, json.loads(call.input), call.origin) == (
        "code_execution",
        {"code": "print(6 * 7)"},
        "gemini",
    )
    assert json.loads(bytes(call.payload)) == GEMINI_CODE_PARTS[0]
    assert (result.text, result.is_error, json.loads(bytes(result.payload))) == (
        "42\n",
        False,
        GEMINI_CODE_PARTS[1],
    )
    assert answer == ir.TextBlock("Sunny, 22°C.")


def test_snake_case_parts_with_ids_pair_by_id() -> None:
    parts = [
        {"executable_code": {"language": "PYTHON", "code": "1/0", "id": "c1"}},
        {"code_execution_result": {"outcome": "OUTCOME_FAILED", "output": "ZeroDivisionError",
                                   "id": "c1"}},
    ]  # fmt: skip
    call, result, _ = gemini.decode_request(_history(*parts)).messages[1].content
    assert isinstance(call, ir.ServerToolCallBlock) and isinstance(result, ir.ServerToolResultBlock)
    assert (call.id, result.call_id, result.is_error) == ("c1", "c1", True)


def test_a_part_the_gateway_made_comes_back_as_a_copy() -> None:
    parts = [
        {"executableCode": {"language": "PYTHON", "code": "print(1)", "id": "plx_openai_ci_1"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1", "id": "plx_openai_ci_1"}},
    ]
    call, result, _ = gemini.decode_request(_history(*parts)).messages[1].content
    assert isinstance(call, ir.ServerToolCallBlock) and isinstance(result, ir.ServerToolResultBlock)
    assert (call.id, call.origin, bool(call.payload)) == ("ci_1", "openai", False)
    assert (result.call_id, result.origin, bool(result.payload)) == ("ci_1", "openai", False)


def test_grounding_decodes_as_a_web_search_after_the_answer() -> None:
    response = gemini.decode_response(_answer({"text": "Sunny."}, groundingMetadata=GROUNDING))
    text, call, result = response.content
    assert text == ir.TextBlock("Sunny.")
    assert isinstance(call, ir.ServerToolCallBlock) and isinstance(result, ir.ServerToolResultBlock)
    assert (call.name, json.loads(call.input), bool(call.payload)) == (
        "web_search",
        {"query": "weather Paris"},
        False,
    )
    assert result.sources == ANTHROPIC_SEARCH[1].sources and result.call_id == call.id
    assert response.stop_reason == "end"


def test_server_side_tool_invocations_decode() -> None:
    call = {"toolCall": {"id": "t1", "toolType": "URL_CONTEXT", "args": {"url": "https://e.com"}}}
    done = {"toolResponse": {"id": "t1", "toolType": "URL_CONTEXT", "response": {"output": "ok"}}}
    content = gemini.decode_response(_answer(call, done)).content
    assert [(type(b).__name__, getattr(b, "name", "")) for b in content] == [
        ("ServerToolCallBlock", "url_context"),
        ("ServerToolResultBlock", "url_context"),
    ]
    assert isinstance(content[1], ir.ServerToolResultBlock) and content[1].text == "ok"


# --- encode for a Gemini upstream ------------------------------------------------------------


def test_a_clients_code_execution_goes_back_to_gemini_as_it_came() -> None:
    body = _encode(gemini.decode_request(_history(*GEMINI_CODE_PARTS)))
    assert body["contents"][1]["parts"][:2] == GEMINI_CODE_PARTS


def test_a_signature_on_the_code_part_goes_back_on_it() -> None:
    signed = {**GEMINI_CODE_PARTS[0], "thoughtSignature": "CpsB"}
    body = _encode(gemini.decode_request(_history(signed, GEMINI_CODE_PARTS[1])))
    assert body["contents"][1]["parts"][0] == signed


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        (ANTHROPIC_SEARCH, [SEARCH_TEXT, SEARCH_RESULT_TEXT]),
        (OPENAI_SEARCH, [SEARCH_TEXT, "[web_search result]\n- https://meteo.example/paris"]),
    ],
)
def test_other_families_tools_go_to_gemini_as_text(blocks: ServerTool, expected: list[str]) -> None:
    parts = _encode(server_round(*blocks))["contents"][1]["parts"]
    assert parts == [{"text": text} for text in [*expected, "Sunny, 22°C."]]


def test_geminis_own_grounding_never_goes_back() -> None:
    response = gemini.decode_response(_answer({"text": "Sunny."}, groundingMetadata=GROUNDING))
    call, result = response.content[1:]
    parts = _encode(server_round(call, result))["contents"][1]["parts"]
    assert parts == [{"text": "Sunny, 22°C."}]


# --- encode for a Gemini client --------------------------------------------------------------


def _client_candidate(*blocks: ir.Block) -> dict[str, Any]:
    response = ir.Response(id="r1", model="m", content=list(blocks))
    body = gemini.encode_response(response, ir.Request(model="m", messages=[]))
    candidate: dict[str, Any] = json.loads(body)["candidates"][0]
    return candidate


def test_gemini_parts_reach_a_client_as_they_came() -> None:
    assert _client_candidate(*GEMINI_CODE)["content"]["parts"] == GEMINI_CODE_PARTS


def test_web_searches_reach_a_client_as_grounding_metadata() -> None:
    candidate = _client_candidate(*ANTHROPIC_SEARCH, ir.TextBlock("Sunny."))
    assert candidate["content"]["parts"] == [{"text": "Sunny."}]
    assert candidate["groundingMetadata"] == GROUNDING


def test_other_code_execution_reaches_a_client_as_code_parts_under_a_tagged_id() -> None:
    call = ir.ServerToolCallBlock("ci_1", "code_execution", '{"code": "1/0"}', origin="openai")
    failed = ir.ServerToolResultBlock(
        "ci_1", "code_execution", text="ZeroDivisionError", is_error=True, origin="openai"
    )
    assert _client_candidate(call, failed)["content"]["parts"] == [
        {"executableCode": {"code": "1/0", "language": "PYTHON", "id": "plx_openai_ci_1"}},
        {"codeExecutionResult": {
            "outcome": "OUTCOME_FAILED", "output": "ZeroDivisionError", "id": "plx_openai_ci_1"}},
    ]  # fmt: skip


def test_a_tool_with_no_gemini_shape_reaches_a_client_as_text() -> None:
    bash = ir.ServerToolCallBlock("srvtoolu_1", "bash_code_execution", '{"command": "ls"}')
    parts = _client_candidate(bash)["content"]["parts"]
    assert parts == [{"text": "\n\n[bash_code_execution] ls\n\n"}]  # on lines of its own


async def test_the_sdk_reads_code_parts_and_grounding() -> None:
    blocks: list[ir.Block] = [*GEMINI_CODE, *ANTHROPIC_SEARCH, ir.TextBlock("Sunny.")]
    body = gemini.encode_response(
        ir.Response(id="r1", model="m", content=blocks), ir.Request(model="m", messages=[])
    )

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body)

    transport = httpx2.AsyncClient(transport=httpx2.MockTransport(answer))
    options = gtypes.HttpOptions(base_url="http://gemini.test", httpx_async_client=transport)
    client = genai.Client(api_key="k", http_options=options)
    result = await client.aio.models.generate_content(model="m", contents="Hi")
    assert result.executable_code == "print(6 * 7)"
    assert result.code_execution_result == "42\n"
    candidate = (result.candidates or [])[0]
    grounding = candidate.grounding_metadata
    assert grounding is not None and grounding.web_search_queries == ["weather Paris"]


def test_code_parts_round_trip_through_a_gemini_client_payload() -> None:
    # What a client sends back decodes to the same blocks, its parts kept.
    parts = _client_candidate(*GEMINI_CODE)["content"]["parts"]
    call, result, _ = gemini.decode_request(_history(*parts)).messages[1].content
    assert isinstance(call, ir.ServerToolCallBlock)
    assert msgspec.json.decode(call.payload) == GEMINI_CODE_PARTS[0]
    assert isinstance(result, ir.ServerToolResultBlock) and result.call_id == call.id


def test_anthropics_dated_code_execution_is_geminis_code_execution() -> None:
    request = server_round()
    request.tools = [ir.Tool(name="code_execution", kind="code_execution_20250825")]
    assert _encode(request)["tools"] == [{"codeExecution": {}}]
