"""Unit tests for the Responses codec: requests, responses, usage, stop reasons, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import msgspec
import openai
import pytest

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import common, responses
from tests.conftest import SEEDS

SEED = SEEDS / "responses" / "testresponses.json"


def _decode(body: dict[str, Any]) -> ir.Request:
    return responses.decode_request(json.dumps(body).encode())


def test_seed_with_chat_nested_tools_decodes() -> None:
    request = responses.decode_request(SEED.read_bytes())
    assert request.system[0].text.startswith("You are an expert AI programming assistant")
    assert [m.role for m in request.messages] == ["user"]
    assert len(request.tools) == 8 and request.tools[0].name == "file_search"
    assert request.tools[0].parameters is not None and request.max_tokens == 1000
    body = responses.encode_request(request)
    assert body["instructions"] == request.system[0].text
    assert body["tools"][0]["type"] == "function" and body["tools"][0]["name"] == "file_search"
    assert body["tools"][0]["strict"] is False and body["store"] is False


def test_codex_history_groups_items_and_keeps_reasoning() -> None:
    tagged = common.tag_token("anthropic", "sig-A")
    request = _decode(
        {
            "model": "m",
            "instructions": "Be brief.",
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "input": [
                {
                    "type": "message",
                    "role": "developer",
                    "content": [{"type": "input_text", "text": "dev"}],
                },
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "q"}],
                },
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
                {
                    "type": "reasoning",
                    "id": "rs_2",
                    "summary": [{"type": "summary_text", "text": "t"}],
                    "encrypted_content": tagged,
                },
                {
                    "type": "function_call",
                    "id": "fc_1",
                    "call_id": "call_1",
                    "name": "shell",
                    "arguments": "{}",
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
                {"role": "user", "content": "next"},
                {"type": "message", "role": "system", "content": "late system"},
            ],
        }
    )
    assert [b.text for b in request.system] == ["Be brief.", "dev"]
    assert [m.role for m in request.messages] == ["user", "assistant", "user", "system"]
    first, second, call = request.messages[1].content
    assert first == ir.ThinkingBlock(signature="rs_1|gAAA", origin="openai", item_id="rs_1")
    assert isinstance(second, ir.ThinkingBlock) and second.origin == "anthropic"
    assert second.signature == "sig-A" and second.text == "t"
    assert call == ir.ToolCallBlock("call_1", "shell", "{}")
    result, text = request.messages[2].content
    assert isinstance(result, ir.ToolResultBlock) and result.name == "shell"
    assert text == ir.TextBlock("next")


def test_encode_request_drops_foreign_tokens_and_ids() -> None:
    request = ir.Request(
        model="m",
        messages=[
            ir.Message("user", [ir.TextBlock("q"), ir.ImageBlock(url="https://x/y.png")]),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingBlock("a", signature="anth", origin="anthropic"),
                    ir.ThinkingBlock("o", signature="enc", origin="openai", item_id="rs_9"),
                    ir.TextBlock("calling"),
                    ir.ToolCallBlock("toolu_01", "f", '{"a":1}'),
                ],
            ),
            ir.Message("user", [ir.ToolResultBlock("toolu_01", [ir.TextBlock("done")])]),
        ],
        stop=["x"],
        top_k=5,
        seed=1,
        reasoning=ir.Reasoning(budget_tokens=8000, summary="detailed"),
    )
    body = responses.encode_request(request)
    items = body["input"]
    assert items[0]["content"][1] == {
        "type": "input_image",
        "image_url": "https://x/y.png",
        "detail": "auto",
    }
    assert items[1] == {
        "type": "reasoning",
        "id": "rs_9",
        "encrypted_content": "enc",
        "summary": [{"type": "summary_text", "text": "o"}],
    }
    assert items[2]["content"] == [{"type": "output_text", "text": "calling", "annotations": []}]
    assert items[3] == {
        "type": "function_call",
        "call_id": "toolu_01",
        "name": "f",
        "arguments": '{"a":1}',
    }
    assert items[4] == {"type": "function_call_output", "call_id": "toolu_01", "output": "done"}
    assert body["reasoning"] == {"effort": "medium", "summary": "detailed"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert not {"stop", "top_k", "seed"} & body.keys()


def test_tools_namespace_hosted_custom_and_choice() -> None:
    request = _decode(
        {
            "model": "m",
            "input": "hi",
            "tools": [
                {
                    "type": "namespace",
                    "name": "mcp__fs__",
                    "description": "fs",
                    "tools": [
                        {"type": "function", "name": "read", "parameters": {"type": "object"}}
                    ],
                },
                {"type": "web_search"},
                {"type": "custom", "name": "apply_patch", "description": "patch"},
            ],
            "tool_choice": {"type": "function", "name": "mcp__fs__read"},
            "text": {
                "format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}
            },
            "reasoning": {"effort": "high", "summary": "auto"},
            "parallel_tool_calls": False,
        }
    )
    read, search, patch = request.tools
    assert (read.name, read.namespace) == ("mcp__fs__read", "mcp__fs__")
    assert search.kind == "web_search" and patch.freeform
    assert request.tool_choice == ir.ToolChoice("tool", "mcp__fs__read")
    assert request.response_format == ir.ResponseFormat("json_schema", "out", {"type": "object"})
    assert request.reasoning == ir.Reasoning(effort="high", summary="auto")
    response = ir.Response(
        id="x",
        model="m",
        stop_reason="tool_use",
        content=[
            ir.ToolCallBlock("call_1", "mcp__fs__read", "{}"),
            ir.ToolCallBlock("call_2", "apply_patch", '{"input":"*** Begin"}'),
        ],
    )
    body = json.loads(responses.encode_response(response, request))
    assert body["output"][0]["name"] == "read" and body["output"][0]["namespace"] == "mcp__fs__"
    assert (
        body["output"][1]["type"] == "custom_tool_call"
        and body["output"][1]["input"] == "*** Begin"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "malformed"),
        (b'{"input": "x"}', "model"),
        (b'{"model": "m", "input": [{"type": "message", "role": "tool", "content": "x"}]}', "role"),
        (b'{"model": "m", "max_output_tokens": "many"}', "max_output_tokens"),
    ],
)
def test_bad_requests_raise_with_path(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        responses.decode_request(body)


def test_unknown_fields_are_ignored() -> None:
    request = _decode({"model": "m", "input": "x", "future_field": {"a": 1}, "store": False})
    assert request.messages == [ir.Message("user", [ir.TextBlock("x")])]


def test_decode_response_usage_and_reasoning() -> None:
    body = {
        "id": "resp_1",
        "model": "gpt",
        "created_at": 1760000000,
        "status": "completed",
        "output": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "s"}],
                "encrypted_content": "enc",
            },
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "hi", "annotations": []}],
            },
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "f",
                "arguments": "{}",
            },
        ],
        "usage": {
            "input_tokens": 1200,
            "input_tokens_details": {"cached_tokens": 1024},
            "output_tokens": 300,
            "output_tokens_details": {"reasoning_tokens": 128},
        },
    }
    response = responses.decode_response(json.dumps(body).encode())
    assert response.content == [
        ir.ThinkingBlock("s", signature="rs_1|enc", origin="openai", item_id="rs_1"),
        ir.TextBlock("hi"),
        ir.ToolCallBlock("call_1", "f", "{}"),
    ]
    assert response.stop_reason == "tool_use"
    assert response.usage == ir.Usage(176, 300, 1024, 0, 128)


def test_decode_response_incomplete() -> None:
    body = {
        "id": "r",
        "model": "m",
        "status": "incomplete",
        "output": [],
        "incomplete_details": {"reason": "content_filter"},
    }
    response = responses.decode_response(json.dumps(body).encode())
    assert (response.stop_reason, response.raw_stop_reason) == ("content_filter", "content_filter")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("completed", "end"),
        ("max_output_tokens", "length"),
        ("content_filter", "content_filter"),
        ("failed", "error"),
        ("cancelled", "other"),
        (None, "end"),
    ],
)
def test_map_stop_reason(raw: str | None, expected: ir.StopReason) -> None:
    assert responses.map_stop_reason(raw) == expected


def _sdk_create(data: bytes) -> openai.types.responses.Response:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=data, headers={"content-type": "application/json"})

    http_client = httpx2.Client(transport=httpx2.MockTransport(answer))
    client = openai.OpenAI(api_key="k", base_url="http://plexus.test/v1", http_client=http_client)
    return client.responses.create(model="m", input="x")


def test_encode_response_is_parsed_by_sdk() -> None:
    request = ir.Request(model="m", messages=[], tools=[ir.Tool("f")], max_tokens=50)
    response = ir.Response(
        id="msg_up",
        model="claude",
        stop_reason="length",
        content=[ir.ThinkingBlock("t", signature="s", origin="gemini"), ir.TextBlock("Hello")],
        usage=ir.Usage(20, 12, 100, 5, 3),
    )
    parsed = _sdk_create(responses.encode_response(response, request))
    assert parsed.id.startswith("resp_") and parsed.output_text == "Hello"
    assert parsed.status == "incomplete" and parsed.incomplete_details is not None
    assert parsed.incomplete_details.reason == "max_output_tokens"
    reasoning = parsed.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content == "plx1.gemini.s"
    assert parsed.usage is not None and parsed.usage.input_tokens == 125
    assert (
        parsed.usage.input_tokens_details.cached_tokens == 100 and parsed.usage.total_tokens == 137
    )


def test_other_stop_reason_keeps_raw_value() -> None:
    request = ir.Request(model="m", messages=[])
    response = ir.Response(
        id="r", model="m", content=[], stop_reason="other", raw_stop_reason="WEIRD"
    )
    body = json.loads(responses.encode_response(response, request))
    assert body["status"] == "completed" and body["metadata"] == {"stop_reason": "WEIRD"}


def test_reasoning_round_trip_through_client() -> None:
    request = ir.Request(model="m", messages=[])
    blocks: list[ir.Block] = [
        ir.ThinkingBlock("x", signature="anth-sig", origin="anthropic"),
        ir.ThinkingBlock("", redacted="blob", origin="anthropic"),
        ir.ThinkingBlock("", signature="gem", origin="gemini"),
        ir.ThinkingBlock("o", signature="enc", origin="openai", item_id="rs_abc"),
        ir.ToolCallBlock("call_1", "f", "{}"),
    ]
    body = json.loads(responses.encode_response(ir.Response("r", "m", blocks), request))
    replay = [
        *body["output"],
        {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
    ]
    decoded = _decode({"model": "m", "input": replay})
    thinking = [b for b in decoded.messages[0].content if isinstance(b, ir.ThinkingBlock)]
    assert [(b.origin, b.signature, b.redacted) for b in thinking] == [
        ("anthropic", "anth-sig", None),
        ("anthropic", None, "blob"),
        ("gemini", "gem", None),
        ("openai", "rs_abc|enc", None),
    ]
    assert thinking[3].item_id == "rs_abc"


def test_encode_error_shapes() -> None:
    body = json.loads(responses.encode_error(429, "slow", "rate_limit"))
    assert body == {
        "error": {
            "message": "slow",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


def test_anthropic_ids_sanitised_consistently() -> None:
    # Responses keeps the client's ids; the Anthropic codec sanitises calls and results alike.
    request = _decode(
        {
            "model": "m",
            "input": [
                {"type": "function_call", "call_id": "call:1/x", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call:1/x", "output": "r"},
            ],
        }
    )
    call = request.messages[0].content[0]
    result = request.messages[1].content[0]
    assert isinstance(call, ir.ToolCallBlock) and isinstance(result, ir.ToolResultBlock)
    assert common.anthropic_tool_id(call.id) == common.anthropic_tool_id(result.call_id)
    assert msgspec.json.encode(responses.encode_request(request))


def test_openai_item_id_survives_clients_without_an_id_slot() -> None:
    # A Messages client keeps only the signature; the reasoning item id must still come back.
    block = ir.ThinkingBlock("t", signature="rs_7|enc", origin="openai")
    request = ir.Request(model="m", messages=[ir.Message("assistant", [block])])
    item = responses.encode_request(request)["input"][0]
    assert (item["id"], item["encrypted_content"]) == ("rs_7", "enc")
    unsigned = ir.ThinkingBlock("t", signature="enc", origin="openai")
    assert (
        responses.encode_request(ir.Request("m", [ir.Message("assistant", [unsigned])]))["input"]
        == []
    )


def test_previous_response_id_is_refused_rather_than_silently_lost() -> None:
    # The stored conversation lives at OpenAI: another provider type would answer without it.
    body = {"model": "m", "input": "and then?", "previous_response_id": "resp_123"}
    with pytest.raises(BadRequest, match="previous_response_id"):
        responses.decode_request(json.dumps(body).encode())
