"""Chat Completions codec: request mapping both ways, responses, usage, stop reasons, errors."""

from __future__ import annotations

from typing import Any

import msgspec
import openai
import pytest

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import chat, common
from tests.conftest import SEEDS, fixture_cases

RECORDINGS = SEEDS / "upstream-recordings" / "chat"


def _decode(body: dict[str, Any]) -> ir.Request:
    return chat.decode_request(msgspec.json.encode({"model": "m", **body}))


# --- decode_request --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", fixture_cases(SEEDS / "chat", ".json"))
def test_seed_requests_decode(seed: str) -> None:
    request = chat.decode_request((SEEDS / "chat" / f"{seed}.json").read_bytes())
    assert request.messages[-1].role == "user"
    if "tool" in seed:
        assert request.tools and request.tool_choice == ir.ToolChoice(mode="auto")


def test_seed_request_reencodes_like_the_recorded_upstream_request() -> None:
    request = chat.decode_request((SEEDS / "chat" / "tools.json").read_bytes())
    body = chat.encode_request(request)
    recorded = msgspec.json.decode((RECORDINGS / "tools.upstream-request.json").read_bytes())
    assert body["messages"] == recorded["messages"]
    assert body["tools"] == recorded["tools"]
    assert body["tool_choice"] == recorded["tool_choice"]


def test_leading_instructions_become_system_and_later_ones_system_messages() -> None:
    request = _decode(
        {
            "messages": [
                {"role": "system", "content": "A"},
                {"role": "developer", "content": [{"type": "text", "text": "B"}]},
                {"role": "user", "content": "hi", "name": "bob"},
                {"role": "system", "content": "C"},
            ]
        }
    )
    assert request.system == [ir.TextBlock(text="A"), ir.TextBlock(text="B")]
    assert request.messages[1] == ir.Message(role="system", content=[ir.TextBlock(text="C")])


def test_tool_messages_merge_into_one_user_turn_with_following_user_text() -> None:
    request = _decode(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "need both",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "a", "arguments": "{}"},
                        },
                        {
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "b", "arguments": "{}"},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "one"},
                {
                    "role": "tool",
                    "tool_call_id": "c2",
                    "content": [{"type": "text", "text": "two"}],
                },
                {"role": "user", "content": "thanks"},
            ]
        }
    )
    assistant, results = request.messages[1], request.messages[2]
    assert assistant.content[0] == ir.ThinkingBlock(text="need both", origin="openai-compatible")
    assert len(request.messages) == 3
    assert results.content == [
        ir.ToolResultBlock(call_id="c1", content=[ir.TextBlock(text="one")], name="a"),
        ir.ToolResultBlock(call_id="c2", content=[ir.TextBlock(text="two")], name="b"),
        ir.TextBlock(text="thanks"),
    ]


def test_user_parts_keep_urls_and_parse_data_urls() -> None:
    request = _decode(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://x/y.png", "detail": "low"},
                        },
                        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
                        {
                            "type": "file",
                            "file": {
                                "file_data": "data:application/pdf;base64,UERG",
                                "filename": "a.pdf",
                            },
                        },
                        {"type": "input_audio", "input_audio": {"data": "V0FW", "format": "wav"}},
                    ],
                }
            ]
        }
    )
    assert request.messages[0].content == [
        ir.ImageBlock(url="https://x/y.png", detail="low"),
        ir.ImageBlock(data="QUJD", media_type="image/jpeg"),
        ir.DocumentBlock(data="UERG", media_type="application/pdf", filename="a.pdf"),
        ir.DocumentBlock(data="V0FW", media_type="audio/wav"),
    ]


def test_settings_decode() -> None:
    request = _decode(
        {
            "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 5,
            "max_completion_tokens": 50,
            "stop": "END",
            "seed": 7,
            "reasoning_effort": "high",
            "stream": True,
            "stream_options": {"include_usage": True},
            "safety_identifier": "u1",
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "parallel_tool_calls": False,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": True},
            },
        }
    )
    assert (request.max_tokens, request.stop, request.seed, request.user) == (50, ["END"], 7, "u1")
    assert request.reasoning == ir.Reasoning(effort="high")
    assert request.stream and request.include_usage and request.parallel_tool_calls is False
    assert request.tool_choice == ir.ToolChoice(mode="tool", name="f")
    assert request.response_format == ir.ResponseFormat(
        type="json_schema", name="r", schema={"type": "object"}, strict=True
    )


@pytest.mark.parametrize(
    "body",
    [
        {"messages": "nope"},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"messages": [{"role": "user", "content": "x"}], "n": 2},
        {"messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
        {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f1"}}]}]},
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "custom", "custom": {"name": "g"}}],
        },
    ],
)
def test_invalid_requests_are_bad_requests(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        _decode(body)


def test_reasoning_details_rebuild_signed_blocks_and_gemini_call_signature() -> None:
    request = _decode(
        {
            "messages": [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": "ok",
                    "reasoning_content": "ignored when details exist",
                    "reasoning_details": [
                        {
                            "type": "reasoning.text",
                            "text": "T",
                            "signature": "S",
                            "format": "anthropic-claude-v1",
                        },
                        {
                            "type": "reasoning.summary",
                            "summary": "sum",
                            "format": "openai-responses-v1",
                        },
                        {
                            "type": "reasoning.encrypted",
                            "data": "E",
                            "id": "rs_1",
                            "format": "openai-responses-v1",
                        },
                        {
                            "type": "reasoning.encrypted",
                            "data": "G",
                            "id": "c9",
                            "format": "google-gemini-v1",
                        },
                        {"type": "reasoning.text", "text": "plain", "format": "unknown"},
                    ],
                    "tool_calls": [
                        {
                            "id": "c9",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
            ]
        }
    )
    assert request.messages[1].content == [
        ir.ThinkingBlock(text="T", signature="S", origin="anthropic"),
        ir.ThinkingBlock(text="sum", signature="E", origin="openai", item_id="rs_1"),
        ir.ThinkingBlock(text="plain", origin="openai-compatible"),
        ir.TextBlock(text="ok"),
        ir.ThinkingBlock(signature="G", origin="gemini"),
        ir.ToolCallBlock(id="c9", name="f", arguments="{}"),
    ]


# --- encode_request --------------------------------------------------------------------------


def test_encode_request_rebuilds_tool_messages_and_reasoning() -> None:
    request = ir.Request(
        model="m",
        system=[ir.TextBlock(text="sys")],
        messages=[
            ir.Message(role="user", content=[ir.TextBlock(text="go")]),
            ir.Message(
                role="assistant",
                content=[
                    ir.ThinkingBlock(text="mine", origin="openai-compatible"),
                    ir.ThinkingBlock(text="claude", signature="S", origin="anthropic"),
                    ir.ThinkingBlock(signature="G", origin="gemini"),
                    ir.ToolCallBlock(id="toolu_1", name="f", arguments=""),
                ],
            ),
            ir.Message(
                role="user",
                content=[
                    ir.ToolResultBlock(
                        call_id="toolu_1",
                        name="f",
                        is_error=True,
                        content=[
                            ir.TextBlock(text="boom"),
                            ir.ImageBlock(data="QUJD", media_type="image/png"),
                        ],
                    ),
                    ir.TextBlock(text="and?"),
                ],
            ),
        ],
        tools=[ir.Tool(name="f", parameters={"type": "object"})],
        tool_choice=ir.ToolChoice(mode="required"),
        max_tokens=100,
        temperature=3.0,
        top_k=5,
        stop=["a", "b", "c", "d", "e"],
        reasoning=ir.Reasoning(budget_tokens=2048),
        stream=True,
    )
    body = chat.encode_request(request)
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
            # Only reasoning of OpenAI-compatible origin: other families' tokens are dropped.
            "reasoning_content": "mine",
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: boom"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Media returned by tool f:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
                {"type": "text", "text": "and?"},
            ],
        },
    ]
    assert body["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    ]
    assert body["tool_choice"] == "required"
    assert body["max_completion_tokens"] == 100 and body["temperature"] == 2.0
    assert "top_k" not in body and body["stop"] == ["a", "b", "c", "d"]
    assert body["reasoning_effort"] == "low"
    assert body["stream_options"] == {"include_usage": True}


def test_encode_request_effort_and_disabled_reasoning() -> None:
    base = ir.Request(
        model="m", messages=[ir.Message(role="user", content=[ir.TextBlock(text="x")])]
    )
    base.reasoning = ir.Reasoning(effort="xhigh")
    assert chat.encode_request(base)["reasoning_effort"] == "xhigh"
    base.reasoning = ir.Reasoning(enabled=False)
    assert chat.encode_request(base)["reasoning_effort"] == "none"


def test_hosted_tools_are_left_out_for_chat_upstreams() -> None:
    # Codex sends web_search on every turn; a chat upstream has no place for it (e2e finding).
    request = ir.Request(
        model="m",
        messages=[],
        tools=[ir.Tool(name="web_search", kind="web_search"), ir.Tool(name="f")],
        tool_choice=ir.ToolChoice("auto"),
    )
    assert [t["function"]["name"] for t in chat.encode_request(request)["tools"]] == ["f"]
    request.tools = request.tools[:1]
    body = chat.encode_request(request)
    assert "tools" not in body and "tool_choice" not in body


def test_long_end_user_ids_are_hashed_to_64_chars() -> None:
    user = '{"device_id": "' + "a" * 120 + '"}'
    request = ir.Request(model="m", messages=[], user=user)
    sent = chat.encode_request(request)["user"]
    assert len(sent) <= 64 and sent == chat.encode_request(request)["user"]
    request.user = "alice"
    assert chat.encode_request(request)["user"] == "alice"


# --- responses -------------------------------------------------------------------------------


def test_recorded_minimax_tool_response_decodes() -> None:
    response = chat.decode_response((RECORDINGS / "tools.upstream-response.json").read_bytes())
    assert response.stop_reason == "tool_use"
    thinking, call = response.content
    assert isinstance(thinking, ir.ThinkingBlock) and thinking.origin == "openai-compatible"
    assert isinstance(call, ir.ToolCallBlock) and call.id == "call_d442293bdd1c4c75bba30d22"
    assert response.usage == ir.Usage(input_tokens=241, output_tokens=322)


def _completion(message: dict[str, Any], finish: str | None, usage: dict[str, Any]) -> bytes:
    choice = {"index": 0, "message": message, "finish_reason": finish}
    return msgspec.json.encode(
        {"id": "chatcmpl-1", "model": "m", "choices": [choice], "usage": usage}
    )


def test_forced_tool_with_stop_is_tool_use_and_usage_buckets_are_disjoint() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 10},
        "completion_tokens_details": {"reasoning_tokens": 12},
    }
    response = chat.decode_response(_completion(message, "stop", usage))
    assert response.stop_reason == "tool_use" and response.raw_stop_reason == "stop"
    assert response.usage == ir.Usage(
        input_tokens=30,
        output_tokens=30,
        cache_read_tokens=60,
        cache_write_tokens=10,
        reasoning_tokens=12,
    )


def test_deepseek_cache_hit_tokens_count_as_cache_reads() -> None:
    usage = {
        "prompt_tokens": 50,
        "completion_tokens": 1,
        "prompt_cache_hit_tokens": 20,
        "prompt_cache_miss_tokens": 30,
    }
    response = chat.decode_response(_completion({"content": "x"}, "stop", usage))
    assert (response.usage.input_tokens, response.usage.cache_read_tokens) == (30, 20)


@pytest.mark.parametrize(
    ("reported", "expected"),
    [(0.00123, 0.00123), (0, 0.0), ("0.5", 0.5), (None, None), ("n/a", None), (-1, None)],
)
def test_provider_reported_cost_is_read(reported: object, expected: float | None) -> None:
    # OpenRouter and Vercel put the USD cost of the call in usage.cost (issue 12).
    usage = {"prompt_tokens": 5, "completion_tokens": 1, "cost": reported}
    response = chat.decode_response(_completion({"content": "x"}, "stop", usage))
    assert response.usage.cost == expected


def test_provider_reported_cost_is_read_from_a_stream_tail() -> None:
    chunk = b'{"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "cost": 0.25}}'
    usage = chat.decode_usage_of(chunk)
    assert usage == ir.Usage(input_tokens=3, output_tokens=2, cost=0.25)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("stop", "end"),
        (None, "end"),
        ("length", "length"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "content_filter"),
        ("eos", "other"),
    ],
)
def test_map_stop_reason(raw: str | None, expected: ir.StopReason) -> None:
    assert chat.map_stop_reason(raw) == expected


def _response(content: list[ir.Block], **fields: Any) -> ir.Response:
    return ir.Response(id="msg_01", model="claude", content=content, created=1, **fields)


def test_encode_response_is_parsed_by_the_sdk() -> None:
    response = _response(
        [
            ir.ThinkingBlock(text="why", signature="S", origin="anthropic"),
            ir.TextBlock(text="Hi"),
            ir.ToolCallBlock(id="toolu_1", name="f", arguments='{"a":1}'),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(
            input_tokens=5,
            output_tokens=7,
            cache_read_tokens=3,
            cache_write_tokens=2,
            reasoning_tokens=4,
        ),
    )
    body = chat.encode_response(response, ir.Request(model="alias", messages=[]))
    completion = openai.types.chat.ChatCompletion.model_validate_json(body)
    message = completion.choices[0].message
    assert completion.id == "chatcmpl-msg_01"
    assert message.content == "Hi" and completion.choices[0].finish_reason == "tool_calls"
    # Issue 11 bug 7: the first call after signed thinking carries the signature in its id.
    assert message.tool_calls is not None
    assert common.unsign_call_id(message.tool_calls[0].id) == ("toolu_1", "anthropic", "S")
    extra = message.model_extra or {}
    assert extra["reasoning_content"] == "why"
    assert extra["reasoning_details"] == [
        {
            "type": "reasoning.text",
            "text": "why",
            "signature": "S",
            "format": "anthropic-claude-v1",
            "index": 0,
        }
    ]
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 10 and completion.usage.total_tokens == 17
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 3


def test_encode_response_refusal_and_other_stop_reason_keep_raw_value() -> None:
    response = _response([ir.RefusalBlock(text="no")], stop_reason="other", raw_stop_reason="SPII")
    decoded = msgspec.json.decode(
        chat.encode_response(response, ir.Request(model="a", messages=[]))
    )
    choice = decoded["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": None, "refusal": "no"}
    assert choice["finish_reason"] == "SPII"


def test_signed_reasoning_round_trips_through_a_chat_client() -> None:
    content: list[ir.Block] = [
        ir.ThinkingBlock(text="t", signature="S", origin="anthropic"),
        ir.ThinkingBlock(redacted="R", origin="anthropic"),
        ir.ThinkingBlock(text="sum", signature="E", origin="openai", item_id="rs_1"),
        ir.ThinkingBlock(signature="G", origin="gemini"),
        ir.ToolCallBlock(id="call_1", name="f", arguments="{}"),
    ]
    body = chat.encode_response(
        _response(content, stop_reason="tool_use"), ir.Request(model="a", messages=[])
    )
    message = msgspec.json.decode(body)["choices"][0]["message"]
    echoed = {"messages": [{"role": "user", "content": "x"}, message]}
    assert _decode(echoed).messages[1].content == content


def test_encode_error_uses_openai_shape() -> None:
    error = msgspec.json.decode(chat.encode_error(429, "slow", "rate_limit"))
    assert error == {
        "error": {
            "message": "slow",
            "type": "rate_limit_error",
            "code": "rate_limit_exceeded",
            "param": None,
        }
    }
