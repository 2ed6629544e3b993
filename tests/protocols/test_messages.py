"""Messages codec: request mapping both ways, responses, usage, stop reasons, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import common, messages
from tests.conftest import SEEDS
from tests.mocks.messages_upstream import Invalid, validate


def _decode(body: dict[str, Any]) -> ir.Request:
    return messages.decode_request(json.dumps(body).encode())


def _tools(count: int) -> list[dict[str, Any]]:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}
    return [{"name": f"tool_{n}", "description": "d", "input_schema": schema} for n in range(count)]


CLAUDE_CODE_BODY: dict[str, Any] = {
    "model": "claude-opus-4-8",
    "max_tokens": 32000,
    "stream": True,
    "system": [
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": "Project rules.", "cache_control": {"type": "ephemeral"}},
    ],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Fix it"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Look first.", "signature": "EqNative=="},
                {"type": "redacted_thinking", "data": "RedactedData"},
                {"type": "thinking", "thinking": "", "signature": common.tag_token("gemini", "g1")},
                {"type": "tool_use", "id": "toolu_1", "name": "tool_0", "input": {"p": "a"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "ok"}],
                    "is_error": True,
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                },
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                },
                {"type": "image", "source": {"type": "url", "url": "https://e.com/a.png"}},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                    "title": "spec",
                },
                {"type": "document", "source": {"type": "text", "data": "plain"}},
                {"type": "document", "source": {"type": "url", "url": "https://e.com/a.pdf"}},
            ],
        },
        {"role": "system", "content": "Mid-conversation rule."},
        {"role": "user", "content": "continue"},
    ],
    "tools": [*_tools(22), {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "thinking": {"type": "adaptive"},
    "output_config": {"effort": "xhigh"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
    "metadata": {"user_id": json.dumps({"device_id": "abc", "session_id": "s"})},
    "some_future_field": {"x": 1},
}


def test_decodes_claude_code_request() -> None:
    request = _decode(CLAUDE_CODE_BODY)
    assert [block.text for block in request.system] == ["You are Claude Code.", "Project rules."]
    assert request.system[1].cache == ir.CacheHint()
    assert request.stream and request.max_tokens == 32000
    assert request.reasoning == ir.Reasoning(effort="xhigh")
    assert request.user == CLAUDE_CODE_BODY["metadata"]["user_id"]
    assert len(request.tools) == 23 and request.tools[-1].kind == "web_search"
    assert request.tools[0].parameters is not None and "$schema" in request.tools[0].parameters
    assert request.tool_choice == ir.ToolChoice(mode="auto")
    assert request.parallel_tool_calls is False
    assert [message.role for message in request.messages] == [
        "user", "assistant", "user", "system", "user",
    ]  # fmt: skip
    thinking, redacted, gemini, call = request.messages[1].content
    assert thinking == ir.ThinkingBlock(
        text="Look first.", signature="EqNative==", origin="anthropic"
    )
    assert redacted == ir.ThinkingBlock(redacted="RedactedData", origin="anthropic")
    assert gemini == ir.ThinkingBlock(text="", signature="g1", origin="gemini")
    assert isinstance(call, ir.ToolCallBlock) and json.loads(call.arguments) == {"p": "a"}
    result, png, url, pdf, text, pdf_url = request.messages[2].content
    assert result == ir.ToolResultBlock(
        call_id="toolu_1",
        content=[ir.TextBlock(text="ok")],
        is_error=True,
        cache=ir.CacheHint(ttl="1h"),
    )
    assert png == ir.ImageBlock(data="iVBO", media_type="image/png")
    assert url == ir.ImageBlock(url="https://e.com/a.png")
    assert pdf == ir.DocumentBlock(data="JVBE", media_type="application/pdf", title="spec")
    assert text == ir.DocumentBlock(text="plain", media_type="text/plain")
    assert pdf_url == ir.DocumentBlock(url="https://e.com/a.pdf")


def test_claude_code_request_round_trips_to_a_valid_upstream_body() -> None:
    body = messages.encode_request(_decode(CLAUDE_CODE_BODY))
    validate(body)
    assert body["system"][-1] == {"type": "text", "text": "Mid-conversation rule."}
    assistant = body["messages"][1]["content"]
    # Native thinking goes back byte-exact; the Gemini token is dropped, never forged.
    assert assistant[0] == {
        "type": "thinking",
        "thinking": "Look first.",
        "signature": "EqNative==",
    }
    assert assistant[1] == {"type": "redacted_thinking", "data": "RedactedData"}
    assert assistant[2]["type"] == "tool_use"
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    # Opus 4.8 refuses manual thinking: adaptive with the client's effort (protocols.md 2.6).
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert body["output_config"]["effort"] == "xhigh"
    assert body["tools"][-1] == {"type": "web_search_20250305", "name": "web_search"}
    user = body["messages"][2]["content"]
    assert user[0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert user[1]["source"] == {"type": "base64", "media_type": "image/png", "data": "iVBO"}
    assert user[2]["source"] == {"type": "url", "url": "https://e.com/a.png"}
    assert user[4]["source"] == {"type": "text", "media_type": "text/plain", "data": "plain"}


@pytest.mark.parametrize("name", ["basic.json", "basic-stream.json"])
def test_seed_bodies_encode_like_the_recording(name: str) -> None:
    request = messages.decode_request((SEEDS / "messages" / name).read_bytes())
    request.model = "scrubbed_model"
    recorded = SEEDS / "upstream-recordings" / "messages" / name.replace(".json", "")
    expected = json.loads(Path(f"{recorded}.upstream-request.json").read_text())
    assert messages.encode_request(request) == expected


def test_decode_rejects_bad_bodies_with_a_path() -> None:
    with pytest.raises(BadRequest, match=r"\$.messages"):
        _decode({"model": "m", "messages": [{"role": "user", "content": 3}]})
    with pytest.raises(BadRequest, match="role"):
        _decode({"model": "m", "messages": [{"role": "tool", "content": "x"}]})


def test_thinking_modes_decode() -> None:
    base: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    enabled = _decode({**base, "thinking": {"type": "enabled", "budget_tokens": 3000}})
    assert enabled.reasoning == ir.Reasoning(effort="low", budget_tokens=3000)
    disabled = _decode({**base, "thinking": {"type": "disabled"}})
    assert disabled.reasoning == ir.Reasoning(effort="none", enabled=False)
    adaptive = _decode({**base, "thinking": {"type": "adaptive", "display": "summarized"}})
    assert adaptive.reasoning == ir.Reasoning(effort="high", summary="auto")
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    formatted = _decode(
        {**base, "output_config": {"format": {"type": "json_schema", "schema": schema}}}
    )
    assert formatted.response_format == ir.ResponseFormat(type="json_schema", schema=schema)


def _user(*blocks: ir.Block) -> ir.Message:
    return ir.Message(role="user", content=list(blocks))


def _assistant(*blocks: ir.Block) -> ir.Message:
    return ir.Message(role="assistant", content=list(blocks))


def test_encode_shapes_turns_for_anthropic() -> None:
    request = ir.Request(
        model="m",
        system=[ir.TextBlock(text=""), ir.TextBlock(text="sys")],
        messages=[
            _assistant(ir.TextBlock(text="hi")),
            _user(ir.TextBlock(text="")),
            _user(ir.TextBlock(text="q")),
            _assistant(
                ir.ThinkingBlock(text="t", signature="s", origin="openai"),
                ir.ThinkingBlock(text="unsigned", origin="anthropic"),
                ir.ToolCallBlock(id="call|1", name="f", arguments='{"a":1}'),
                ir.ToolCallBlock(id="call_2", name="g", arguments="not json"),
            ),
            _user(ir.TextBlock(text="after")),
            _user(ir.ToolResultBlock(call_id="call|1", content=[])),
        ],
    )
    body = messages.encode_request(request)
    validate(body)
    assert body["system"] == [{"type": "text", "text": "sys"}]
    assert body["max_tokens"] == 8192
    first, _, _, assistant, results = body["messages"]
    assert first == {"role": "user", "content": [{"type": "text", "text": "(continue)"}]}
    sanitized = common.anthropic_tool_id("call|1")
    assert [block["type"] for block in assistant["content"]] == ["tool_use", "tool_use"]
    assert assistant["content"][0]["id"] == sanitized
    assert assistant["content"][1]["input"] == {}
    assert results["content"][0] == {
        "type": "tool_result",
        "tool_use_id": sanitized,
        "content": "(no output)",
    }
    assert results["content"][1]["is_error"] is True  # call_2 was never answered
    assert results["content"][2] == {"type": "text", "text": "after"}


def test_encode_generation_settings_without_thinking() -> None:
    request = ir.Request(
        model="m",
        messages=[_user(ir.TextBlock(text="x"))],
        tools=[ir.Tool(name="f")],
        tool_choice=ir.ToolChoice(mode="tool", name="f"),
        max_tokens=100,
        temperature=1.7,
        top_p=0.5,
        top_k=20,
        stop=["END"],
        seed=4,
        response_format=ir.ResponseFormat(type="json_object"),
        user="u1",
        stream=True,
    )
    body = messages.encode_request(request)
    validate(body)
    assert body["temperature"] == 1.0 and body["top_p"] == 0.5 and body["top_k"] == 20
    assert body["stop_sequences"] == ["END"]
    assert "seed" not in body
    assert body["tool_choice"] == {"type": "tool", "name": "f"}
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    # Anthropic has no "any JSON object" format: it is asked for in the system prompt.
    assert "output_config" not in body
    assert "JSON object" in body["system"][-1]["text"]
    assert body["metadata"] == {"user_id": "u1"} and body["stream"] is True


def test_encode_thinking_restrictions() -> None:
    request = ir.Request(
        model="m",
        messages=[_user(ir.TextBlock(text="x"))],
        tools=[ir.Tool(name="f", parameters={"type": "object"})],
        tool_choice=ir.ToolChoice(mode="required"),
        max_tokens=4000,
        temperature=0.3,
        top_p=0.96,
        top_k=5,
        reasoning=ir.Reasoning(effort="high", summary="auto"),
    )
    body = messages.encode_request(request)
    validate(body)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 16384, "display": "summarized"}
    assert body["max_tokens"] == 16384 + 4000
    assert "temperature" not in body and "top_k" not in body and body["top_p"] == 0.96
    assert body["tool_choice"] == {"type": "auto"}
    off = messages.encode_request(
        ir.Request(model="m", messages=request.messages, reasoning=ir.Reasoning(effort="none"))
    )
    assert "thinking" not in off
    small = messages.encode_request(
        ir.Request(model="m", messages=request.messages, reasoning=ir.Reasoning(budget_tokens=10))
    )
    assert small["thinking"]["budget_tokens"] == 1024 and small["max_tokens"] == 8192


def test_decode_response_maps_usage_and_blocks() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {"type": "thinking", "thinking": "t", "signature": "sig"},
            {"type": "redacted_thinking", "data": "r"},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
            {"type": "text", "text": "hi", "citations": None},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1, 2]}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 5,
            "output_tokens": 9,
            "cache_creation_input_tokens": 2,
            "cache_read_input_tokens": 3,
            "output_tokens_details": {"thinking_tokens": 4},
        },
    }
    response = messages.decode_response(json.dumps(body).encode())
    assert response.usage == ir.Usage(
        input_tokens=5,
        output_tokens=9,
        cache_read_tokens=3,
        cache_write_tokens=2,
        reasoning_tokens=4,
    )
    assert response.content[0] == ir.ThinkingBlock(text="t", signature="sig", origin="anthropic")
    assert response.content[1] == ir.ThinkingBlock(redacted="r", origin="anthropic")
    assert len(response.content) == 5 and response.stop_reason == "tool_use"
    round_trip = json.loads(messages.encode_response(response, ir.Request(model="m", messages=[])))
    assert round_trip["content"] == [
        {"type": "thinking", "thinking": "t", "signature": "sig"},
        {"type": "redacted_thinking", "data": "r"},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1, 2]}},
    ]
    assert round_trip["usage"]["output_tokens_details"] == {"thinking_tokens": 4}


def test_recorded_response_decodes() -> None:
    path = SEEDS / "upstream-recordings" / "messages" / "basic.upstream-response.json"
    response = messages.decode_response(path.read_bytes())
    assert response.content == [
        ir.TextBlock(text="Hello! It's nice to meet you. How can I help you today?")
    ]
    assert response.usage == ir.Usage(input_tokens=10, output_tokens=19)
    assert response.stop_reason == "end" and response.raw_stop_reason == "end_turn"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("end_turn", "end"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop_sequence"),
        ("tool_use", "tool_use"),
        ("pause_turn", "pause"),
        ("refusal", "refusal"),
        ("model_context_window_exceeded", "context_exceeded"),
        ("brand_new_reason", "other"),
    ],
)
def test_stop_reasons_round_trip(raw: str, reason: ir.StopReason) -> None:
    assert messages.map_stop_reason(raw) == reason
    response = ir.Response(id="x", model="m", content=[], stop_reason=reason, raw_stop_reason=raw)
    if reason == "stop_sequence":
        response.stop_sequence = "END"
    body = json.loads(messages.encode_response(response, ir.Request(model="m", messages=[])))
    assert body["stop_reason"] == raw
    assert body["stop_sequence"] == ("END" if reason == "stop_sequence" else None)


def test_content_filter_becomes_refusal_with_details() -> None:
    response = ir.Response(id="msg_1", model="m", content=[], stop_reason="content_filter")
    body = json.loads(messages.encode_response(response, ir.Request(model="m", messages=[])))
    assert body["stop_reason"] == "refusal"
    assert body["stop_details"] == {"type": "refusal", "category": None, "explanation": None}


@pytest.mark.parametrize(
    ("kind", "wire_type"),
    [
        ("invalid_request", "invalid_request_error"),
        ("authentication", "authentication_error"),
        ("not_found", "not_found_error"),
        ("rate_limit", "rate_limit_error"),
        ("overloaded", "overloaded_error"),
        ("timeout", "timeout_error"),
        ("too_large", "request_too_large"),
        ("billing", "billing_error"),
        ("unheard_of", "api_error"),
    ],
)
def test_encode_error(kind: str, wire_type: str) -> None:
    body = json.loads(messages.encode_error(400, "boom", kind))
    assert body == {"type": "error", "error": {"type": wire_type, "message": "boom"}}


def test_client_tool_ids_are_kept_when_valid_and_sanitised_otherwise() -> None:
    response = ir.Response(
        id="msg_1",
        model="m",
        content=[
            ir.ToolCallBlock(id="call_ok-1", name="f"),
            ir.ToolCallBlock(id="functions.f:0", name="f"),
        ],
    )
    body = json.loads(messages.encode_response(response, ir.Request(model="m", messages=[])))
    ids = [block["id"] for block in body["content"]]
    assert ids == ["call_ok-1", common.anthropic_tool_id("functions.f:0")]
    # The sanitised id comes back from the client and pairs with its result upstream.
    back = _decode(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": body["content"]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": ids[0], "content": "a"},
                        {"type": "tool_result", "tool_use_id": ids[1], "content": "b"},
                    ],
                },
            ],
        }
    )
    validate(messages.encode_request(back))


def test_mock_validator_rejects_what_the_encoder_must_avoid() -> None:
    with pytest.raises(Invalid):
        validate({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": ""}]})


# --- model capabilities (protocols.md 2.6) ------------------------------------------------------


def _reasoning_request(model: str, **extra: object) -> ir.Request:
    return ir.Request(
        model=model,
        messages=[ir.Message("user", [ir.TextBlock("hi")])],
        reasoning=ir.Reasoning(effort="high"),
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-sonnet-5", "claude-opus-4-6"])
def test_new_models_get_adaptive_thinking_with_effort(model: str) -> None:
    body = messages.encode_request(_reasoning_request(model))
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert body["output_config"]["effort"] == "high"
    assert body["max_tokens"] == 8192


def test_older_models_keep_manual_thinking() -> None:
    body = messages.encode_request(_reasoning_request("claude-sonnet-4-5"))
    assert body["thinking"]["type"] == "enabled"
    assert 1024 <= body["thinking"]["budget_tokens"] < body["max_tokens"]


def test_locked_sampling_is_dropped_on_new_models() -> None:
    request = _reasoning_request("claude-opus-4-8", temperature=0.2, top_p=0.5, top_k=5)
    body = messages.encode_request(request)
    assert not {"temperature", "top_p", "top_k"} & set(body)


def test_effort_none_disables_thinking_where_allowed() -> None:
    request = _reasoning_request("claude-sonnet-5")
    request.reasoning = ir.Reasoning(effort="none")
    assert messages.encode_request(request)["thinking"] == {"type": "disabled"}
    request.model = "claude-fable-5-1"
    body = messages.encode_request(request)
    assert "thinking" not in body and body["output_config"]["effort"] == "low"
