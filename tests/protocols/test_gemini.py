"""Gemini codec: request mapping both ways, responses, usage, stop reasons, signatures, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plexus import ir
from plexus.errors import BadRequest, UpstreamError
from plexus.protocols import common, gemini
from tests.conftest import SEEDS


def decode(body: dict[str, Any]) -> ir.Request:
    return gemini.decode_request(json.dumps(body).encode())


def user(text: str) -> ir.Message:
    return ir.Message(role="user", content=[ir.TextBlock(text=text)])


def test_seed_bodies_decode_with_snake_case_and_openapi_types() -> None:
    basic = gemini.decode_request((SEEDS / "gemini" / "basic.json").read_bytes())
    assert basic.messages == [user("Explain how a large language model works in one sentence.")]
    tools = gemini.decode_request((SEEDS / "gemini" / "tools.json").read_bytes())
    assert tools.tool_choice == ir.ToolChoice(mode="auto")
    [tool] = tools.tools
    assert tool.name == "get_weather" and tool.parameters is not None
    assert tool.parameters["type"] == "object"
    assert tool.parameters["properties"]["unit"] == {
        "type": "string",
        "enum": ["celsius", "fahrenheit"],
    }


def test_seed_round_trips_through_encode_request() -> None:
    request = gemini.decode_request((SEEDS / "gemini" / "tools-stream.json").read_bytes())
    request.model = "gemini-2.5-flash"
    body = gemini.encode_request(request)
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration["parametersJsonSchema"]["properties"]["location"]["type"] == "string"
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert body["contents"][0]["role"] == "user"
    assert gemini.decode_request(json.dumps(body).encode()).tools == request.tools


def test_function_calls_without_ids_pair_with_responses_by_name_and_order() -> None:
    request = decode(
        {
            "contents": [
                {"parts": [{"text": "hi"}]},
                {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {"name": "f", "args": {"a": 1}},
                            "thoughtSignature": "SIG",
                        },
                        {"functionCall": {"name": "f", "args": {"a": 2}}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "f", "response": {"output": "one"}}},
                        {"functionResponse": {"name": "f", "response": {"error": {"x": 1}}}},
                    ],
                },
            ]
        }
    )
    signed, first, second = request.messages[1].content
    assert signed == ir.ThinkingBlock(signature="SIG", origin="gemini")
    assert isinstance(first, ir.ToolCallBlock) and isinstance(second, ir.ToolCallBlock)
    assert first.id.startswith("call_") and first.id != second.id
    results = request.messages[2].content
    assert [r.call_id for r in results if isinstance(r, ir.ToolResultBlock)] == [
        first.id,
        second.id,
    ]
    assert results[1] == ir.ToolResultBlock(
        call_id=second.id, content=[ir.TextBlock(text='{"x":1}')], name="f", is_error=True
    )


def test_parts_map_to_media_thinking_and_system() -> None:
    request = decode(
        {
            "system_instruction": {"parts": [{"text": "Be terse."}]},
            "contents": [
                {
                    "parts": [
                        {"inline_data": {"mime_type": "image/png", "data": "iVBOR"}},
                        {"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}},
                        {"fileData": {"fileUri": "https://x.test/a.jpg", "mimeType": "image/jpeg"}},
                    ]
                },
                {"role": "model", "parts": [{"text": "hmm", "thought": True}, {"text": "Yes."}]},
            ],
        }
    )
    assert request.system == [ir.TextBlock(text="Be terse.")]
    assert request.messages[0].content == [
        ir.ImageBlock(data="iVBOR", media_type="image/png"),
        ir.DocumentBlock(data="JVBER", media_type="application/pdf"),
        ir.ImageBlock(url="https://x.test/a.jpg", media_type="image/jpeg"),
    ]
    assert request.messages[1].content == [
        ir.ThinkingBlock(text="hmm", origin="gemini"),
        ir.TextBlock(text="Yes."),
    ]


def test_generation_config_maps_to_settings() -> None:
    request = decode(
        {
            "contents": [{"parts": [{"text": "x"}]}],
            "generationConfig": {
                "maxOutputTokens": 100,
                "temperature": 0.5,
                "topP": 0.9,
                "topK": 40,
                "stopSequences": ["END"],
                "seed": 7,
                "responseMimeType": "application/json",
                "responseJsonSchema": {"type": "object"},
                "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True},
            },
        }
    )
    assert (request.max_tokens, request.temperature, request.top_p, request.top_k) == (
        100,
        0.5,
        0.9,
        40,
    )
    assert (request.stop, request.seed) == (["END"], 7)
    assert request.response_format == ir.ResponseFormat(
        type="json_schema", name="response", schema={"type": "object"}
    )
    assert request.reasoning == ir.Reasoning(effort="low", budget_tokens=2048, summary="auto")


@pytest.mark.parametrize(
    ("config", "choice"),
    [
        ({"mode": "ANY", "allowedFunctionNames": ["f"]}, ir.ToolChoice(mode="tool", name="f")),
        ({"mode": "ANY"}, ir.ToolChoice(mode="required")),
        ({"mode": "NONE"}, ir.ToolChoice(mode="none")),
    ],
)
def test_tool_config_modes(config: dict[str, Any], choice: ir.ToolChoice) -> None:
    body = {
        "contents": [{"parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "f"}]}, {"googleSearch": {}}],
        "toolConfig": {"functionCallingConfig": config},
    }
    request = decode(body)
    assert request.tool_choice == choice
    assert [t.kind for t in request.tools] == ["function", "web_search"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"contents": []}',
        b'{"contents": [{"role": "system", "parts": [{"text": "x"}]}]}',
        b'{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 2}}',
        b'{"contents": [{"parts": [{"text": 5}]}]}',
    ],
)
def test_invalid_requests_are_bad_requests(body: bytes) -> None:
    with pytest.raises(BadRequest):
        gemini.decode_request(body)


def _history() -> list[ir.Message]:
    return [
        user("Weather?"),
        ir.Message(
            role="assistant",
            content=[
                ir.ThinkingBlock(text="secret", signature="ant-sig", origin="anthropic"),
                ir.ThinkingBlock(text="gemini thought", origin="gemini"),
                ir.ThinkingBlock(signature="GSIG", origin="gemini"),
                ir.ToolCallBlock(id="toolu_1", name="get_weather", arguments='{"city":"Paris"}'),
                ir.ToolCallBlock(id="toolu_2", name="get_time", arguments=""),
            ],
        ),
        ir.Message(
            role="user",
            content=[
                ir.ToolResultBlock(call_id="toolu_1", content=[ir.TextBlock(text="18C")]),
                ir.ToolResultBlock(
                    call_id="toolu_2", content=[ir.TextBlock(text="no")], is_error=True
                ),
            ],
        ),
        ir.Message(role="user", content=[ir.TextBlock(text="Thanks")]),
    ]


def test_encode_request_pairs_results_and_keeps_only_gemini_signatures() -> None:
    request = ir.Request(
        model="gemini-2.5-flash", messages=_history(), system=[ir.TextBlock(text="S")]
    )
    body = gemini.encode_request(request)
    assert body["systemInstruction"] == {"parts": [{"text": "S"}]}
    model, results = body["contents"][1], body["contents"][2]
    assert model == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": "GSIG",
            },
            {"functionCall": {"name": "get_time", "args": {}}},
        ],
    }
    assert results["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"output": "18C"}}},
        {"functionResponse": {"name": "get_time", "response": {"error": "no"}}},
        {"text": "Thanks"},
    ]
    assert "ant-sig" not in json.dumps(body) and "secret" not in json.dumps(body)


def test_encode_request_rejects_results_without_a_call() -> None:
    messages = [user("x"), ir.Message(role="user", content=[ir.ToolResultBlock(call_id="nope")])]
    with pytest.raises(BadRequest):
        gemini.encode_request(ir.Request(model="gemini-2.5-flash", messages=messages))


def test_gemini_3_gets_levels_and_a_validator_skip_for_foreign_calls() -> None:
    history = [
        user("x"),
        ir.Message(role="assistant", content=[ir.ToolCallBlock(id="c", name="f", arguments="{}")]),
        ir.Message(role="user", content=[ir.ToolResultBlock(call_id="c", content=[])]),
    ]
    request = ir.Request(
        model="gemini-3-flash", messages=history, reasoning=ir.Reasoning(effort="medium")
    )
    body = gemini.encode_request(request)
    assert body["contents"][1]["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"
    thinking = body["generationConfig"]["thinkingConfig"]
    assert thinking == {"thinkingLevel": "MEDIUM", "includeThoughts": True}


@pytest.mark.parametrize(
    ("reasoning", "expected"),
    [
        (ir.Reasoning(effort="high"), {"thinkingBudget": 16384, "includeThoughts": True}),
        (ir.Reasoning(budget_tokens=3000), {"thinkingBudget": 3000, "includeThoughts": True}),
        (ir.Reasoning(effort="none", enabled=False), {"thinkingBudget": 0}),
    ],
)
def test_budget_models_get_thinking_budgets(
    reasoning: ir.Reasoning, expected: dict[str, Any]
) -> None:
    request = ir.Request(model="gemini-2.5-flash", messages=[user("x")], reasoning=reasoning)
    assert gemini.encode_request(request)["generationConfig"]["thinkingConfig"] == expected


def test_generation_settings_are_clamped_and_tools_sanitised() -> None:
    request = ir.Request(
        model="gemini-2.5-flash",
        messages=[user("x"), ir.Message(role="system", content=[ir.TextBlock(text="late")])],
        temperature=3.0,
        top_p=1.5,
        stop=["a", "b", "c", "d", "e", "f"],
        response_format=ir.ResponseFormat(type="json_object"),
        tools=[
            ir.Tool(name="f", parameters={"$schema": "x", "type": "object", "properties": {}}),
            ir.Tool(name="web_search", kind="web_search"),
        ],
        tool_choice=ir.ToolChoice(mode="tool", name="f"),
    )
    body = gemini.encode_request(request)
    config = body["generationConfig"]
    assert (config["temperature"], config["topP"], len(config["stopSequences"])) == (2.0, 1.0, 5)
    assert config["responseMimeType"] == "application/json"
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "f", "parametersJsonSchema": {"type": "object", "properties": {}}}
            ]
        },
        {"googleSearch": {}},
    ]
    assert body["toolConfig"]["functionCallingConfig"] == {
        "mode": "ANY",
        "allowedFunctionNames": ["f"],
    }
    assert body["systemInstruction"] == {"parts": [{"text": "late"}]}


def test_images_become_inline_data_or_file_data() -> None:
    content: list[ir.Block] = [
        ir.ImageBlock(url="data:image/png;base64,AAA"),
        ir.ImageBlock(url="https://x.test/cat.jpg"),
    ]
    body = gemini.encode_request(
        ir.Request(model="m", messages=[ir.Message(role="user", content=content)])
    )
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": "AAA"}},
        {"fileData": {"fileUri": "https://x.test/cat.jpg", "mimeType": "image/jpeg"}},
    ]


def test_decode_response_maps_parts_stop_and_usage() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "think", "thought": True},
                        {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "S"},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 120,
            "cachedContentTokenCount": 100,
            "candidatesTokenCount": 12,
            "thoughtsTokenCount": 30,
            "totalTokenCount": 162,
        },
        "modelVersion": "gemini-3-flash",
        "responseId": "R",
    }
    response = gemini.decode_response(json.dumps(body).encode())
    assert response.stop_reason == "tool_use" and response.raw_stop_reason == "STOP"
    assert response.usage == ir.Usage(
        input_tokens=20, cache_read_tokens=100, output_tokens=42, reasoning_tokens=30
    )
    thought, signed, call = response.content
    assert thought == ir.ThinkingBlock(text="think", origin="gemini")
    assert signed == ir.ThinkingBlock(signature="S", origin="gemini")
    assert isinstance(call, ir.ToolCallBlock) and call.arguments == '{"a":1}'


def test_blocked_prompt_and_error_bodies() -> None:
    blocked = gemini.decode_response(b'{"promptFeedback": {"blockReason": "SAFETY"}}')
    assert (blocked.stop_reason, blocked.raw_stop_reason, blocked.content) == (
        "content_filter",
        "SAFETY",
        [],
    )
    with pytest.raises(UpstreamError) as caught:
        gemini.decode_response(
            b'{"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}'
        )
    assert caught.value.status == 429


@pytest.mark.parametrize(
    ("raw", "stop"),
    [
        ("STOP", "end"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("OTHER", "other"),
        ("BRAND_NEW", "other"),
    ],
)
def test_map_stop_reason(raw: str, stop: ir.StopReason) -> None:
    assert gemini.map_stop_reason(raw) == stop


def test_encode_response_tags_foreign_tokens_and_maps_usage() -> None:
    response = ir.Response(
        id="msg_1",
        model="claude-x",
        content=[
            ir.ThinkingBlock(text="why", signature="ant", origin="anthropic"),
            ir.TextBlock(text="Hello"),
        ],
        stop_reason="length",
        usage=ir.Usage(
            input_tokens=20, cache_read_tokens=100, output_tokens=12, reasoning_tokens=2
        ),
    )
    body = json.loads(gemini.encode_response(response, ir.Request(model="alias", messages=[])))
    candidate = body["candidates"][0]
    assert candidate["finishReason"] == "MAX_TOKENS"
    thought, text, signed = candidate["content"]["parts"]
    # Issue 11 bug 10: the foreign token (its text inside) is not on the thought part but on
    # the first functionCall, where Gemini 3 puts signatures, else on a last part of its own.
    assert thought == {"text": "why", "thought": True} and text == {"text": "Hello"}
    assert signed["text"] == "" and signed["thoughtSignature"]
    back = decode({"contents": [{"role": "model", "parts": [text, signed]}]})
    # A client that dropped the thought part still gives back the whole thinking block.
    assert back.messages[0].content[1] == ir.ThinkingBlock(
        text="why", signature="ant", origin="anthropic"
    )
    assert body["usageMetadata"] == {
        "promptTokenCount": 120,
        "cachedContentTokenCount": 100,
        "candidatesTokenCount": 10,
        "thoughtsTokenCount": 2,
        "totalTokenCount": 132,
    }


def test_plain_tagged_signatures_are_untagged_and_others_are_gemini() -> None:
    tagged = common.tag_token("openai", "enc")
    request = decode(
        {
            "contents": [
                {
                    "role": "model",
                    "parts": [{"text": "t", "thought": True, "thoughtSignature": tagged}],
                }
            ]
        }
    )
    assert request.messages[0].content[0] == ir.ThinkingBlock(
        text="t", signature="enc", origin="openai"
    )


def test_encode_error_uses_google_status() -> None:
    body = json.loads(gemini.encode_error(404, "no such model", "not_found"))
    assert body == {"error": {"code": 404, "message": "no such model", "status": "NOT_FOUND"}}
    assert (
        json.loads(gemini.encode_error(429, "slow", "rate_limit"))["error"]["status"]
        == "RESOURCE_EXHAUSTED"
    )


def test_url_safe_base64_from_the_sdk_becomes_standard_base64() -> None:
    # The google-genai SDK sends inlineData URL-safe; Anthropic and OpenAI reject that form.
    body = {
        "contents": [
            {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "ab-_cd"}}]}
        ]
    }
    request = gemini.decode_request(json.dumps(body).encode())
    block = request.messages[0].content[0]
    assert isinstance(block, ir.ImageBlock)
    assert block.data == "ab+/cd=="
