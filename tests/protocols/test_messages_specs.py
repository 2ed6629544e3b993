"""Messages codec specs: the translation edge cases this codec owns, decoding what Anthropic
clients send and encoding what the Anthropic API accepts (the shared IR is in cases.py).

Encoded bodies go through the strict mock's validator, as they did through the mock upstream.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import msgspec
import pytest

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import messages
from tests.clients import PIXEL_PNG, WEATHER_TOOL
from tests.mocks.messages_upstream import validate
from tests.protocols.cases import (
    CACHED_USAGE,
    CACHED_USAGE_WITHOUT_REASONING,
    CALL,
    GEMINI_FILE_URI,
    OPEN_SCHEMA,
    PDF,
    PDF_B64,
    PIXEL,
    USAGE_SHAPES,
    answer,
    ask,
    assistant,
    decode_stream,
    frames,
    texts,
    tool_round,
    usage_stream,
    user,
)

AM_TOOL = {
    "name": WEATHER_TOOL["name"],
    "description": WEATHER_TOOL["description"],
    "input_schema": WEATHER_TOOL["parameters"],
}
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "P"}}


def _decode(*turns: dict[str, Any], **body: Any) -> ir.Request:
    payload = {"model": "m", "max_tokens": 256, "messages": list(turns), **body}
    return messages.decode_request(json.dumps(payload).encode())


def _question(**body: Any) -> ir.Request:
    return _decode({"role": "user", "content": "Weather?"}, tools=[AM_TOOL], **body)


def _tool_results(*blocks: dict[str, Any]) -> ir.Request:
    return _decode(
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [TOOL_USE]},
        {"role": "user", "content": list(blocks)},
        tools=[AM_TOOL],
    )


# --- decode: what Anthropic clients send -----------------------------------------------------


def test_empty_text_block_beside_tool_use_is_kept_for_the_encoders_to_drop() -> None:
    request = _decode(
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "text", "text": ""}, TOOL_USE]},
        tools=[AM_TOOL],
    )
    assert request.messages[1].content == [
        ir.TextBlock(text=""),
        ir.ToolCallBlock(id="toolu_1", name="get_weather", arguments='{"location": "P"}'),
    ]


def test_tool_result_with_an_image_decodes() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PIXEL_PNG},
    }
    request = _tool_results(
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [{"type": "text", "text": "screenshot:"}, image],
        },
        {"type": "text", "text": "What does it show?"},
    )
    assert request.messages[2].content == [
        ir.ToolResultBlock(call_id="toolu_1", content=[ir.TextBlock(text="screenshot:"), PIXEL]),
        ir.TextBlock(text="What does it show?"),
    ]


def test_tool_result_error_decodes() -> None:
    request = _tool_results(
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": "city not found",
            "is_error": True,
        }
    )
    assert request.messages[2].content == [
        ir.ToolResultBlock(
            call_id="toolu_1", content=[ir.TextBlock(text="city not found")], is_error=True
        )
    ]


@pytest.mark.parametrize(
    ("sent", "choice"),
    [
        ({"type": "none"}, ir.ToolChoice(mode="none")),
        ({"type": "auto"}, ir.ToolChoice(mode="auto")),
        ({"type": "any"}, ir.ToolChoice(mode="required")),
        ({"type": "tool", "name": "get_weather"}, ir.ToolChoice(mode="tool", name="get_weather")),
    ],
    ids=["none", "auto", "required", "named"],
)
def test_tool_choice_decodes(sent: dict[str, str], choice: ir.ToolChoice) -> None:
    """The table of protocols.md 6.6."""
    request = _question(tool_choice=sent)
    assert request.tool_choice == choice and request.parallel_tool_calls is None


@pytest.mark.parametrize(
    ("kind", "mode"), [("auto", "auto"), ("any", "required")], ids=["auto", "any"]
)
def test_disable_parallel_tool_use_decodes(kind: str, mode: str) -> None:
    request = _question(tool_choice={"type": kind, "disable_parallel_tool_use": True})
    assert request.tool_choice == ir.ToolChoice(mode="auto" if mode == "auto" else "required")
    assert request.parallel_tool_calls is False


def test_many_stop_sequences_decode() -> None:
    """Anthropic takes many stop sequences; the Chat and Gemini encoders keep what they take."""
    stops = [f"S{i}" for i in range(8)]
    assert _question(stop_sequences=stops).stop == stops


@pytest.mark.parametrize(
    ("source", "document"),
    [
        (
            {"type": "base64", "media_type": "application/pdf", "data": PDF_B64},
            PDF,
        ),
        (
            {"type": "url", "url": "https://example.com/doc.pdf"},
            ir.DocumentBlock(url="https://example.com/doc.pdf"),
        ),
    ],
    ids=["base64", "url"],
)
def test_documents_decode(source: dict[str, str], document: ir.DocumentBlock) -> None:
    request = _decode(
        {
            "role": "user",
            "content": [
                {"type": "document", "source": source},
                {"type": "text", "text": "Summarise."},
            ],
        }
    )
    assert request.messages[0].content == [document, ir.TextBlock(text="Summarise.")]


# --- encode: what the Anthropic API accepts --------------------------------------------------


def _encode(request: ir.Request) -> dict[str, Any]:
    body = messages.encode_request(request)
    validate(body)
    return body


def test_empty_text_beside_a_tool_call_is_left_out() -> None:
    """Anthropic rejects empty text blocks (protocols.md 6.3)."""
    body = _encode(tool_round(ir.TextBlock(text="")))
    assert body["messages"][1]["content"][0]["type"] == "tool_use"
    assert "" not in texts(body)


def test_tool_result_image_stays_in_the_tool_result() -> None:
    """The rules of protocols.md 6.8."""
    body = _encode(tool_round(result=[ir.TextBlock(text="screenshot:"), PIXEL]))
    result = body["messages"][2]["content"][0]
    assert result["type"] == "tool_result"
    assert result["content"] == [
        {"type": "text", "text": "screenshot:"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": PIXEL_PNG},
        },
    ]


def test_empty_tool_result_says_there_was_no_output() -> None:
    """Anthropic refuses an empty tool_result text."""
    body = _encode(tool_round(result=[]))
    assert body["messages"][2]["content"][0]["content"] == "(no output)"
    assert "" not in texts(body)


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (ir.ToolChoice(mode="none"), {"type": "none"}),
        (ir.ToolChoice(mode="auto"), {"type": "auto"}),
        (ir.ToolChoice(mode="required"), {"type": "any"}),
        (ir.ToolChoice(mode="tool", name="get_weather"), {"type": "tool", "name": "get_weather"}),
    ],
    ids=["none", "auto", "required", "named"],
)
def test_tool_choice_encodes(choice: ir.ToolChoice, sent: dict[str, str]) -> None:
    """The table of protocols.md 6.6."""
    assert _encode(ask(tool_choice=choice))["tool_choice"] == sent


def test_parallel_tool_calls_false_rides_on_an_auto_tool_choice() -> None:
    """Anthropic has no parallel_tool_calls field (protocols.md 6.6)."""
    body = _encode(ask(parallel_tool_calls=False))
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


@pytest.mark.parametrize(
    ("stop", "sent"),
    [(["END"], ["END"]), (["\n", "END", " ", "\n\n"], ["END"]), (["\n"], None)],
    ids=["one", "whitespace-dropped", "only-whitespace"],
)
def test_whitespace_only_stop_sequences_are_dropped(
    stop: list[str], sent: list[str] | None
) -> None:
    """Anthropic refuses whitespace-only stop sequences, which completion clients often send."""
    assert _encode(ask(stop=stop, tools=[])).get("stop_sequences") == sent


def test_without_max_tokens_a_default_is_sent() -> None:
    """Anthropic requires max_tokens; Chat, Responses and Gemini clients may leave it out."""
    assert _encode(ask(tools=[]))["max_tokens"] >= 1024
    assert _encode(ask(tools=[], max_tokens=123))["max_tokens"] == 123


@pytest.mark.parametrize(
    ("model", "asked", "sent"),
    [
        ("claude-3-haiku-20240307", None, 4096),
        ("claude-3-haiku-20240307", 6000, 4096),
        ("claude-3-5-haiku-20241022", 20000, 8192),
        ("claude-opus-4-1", 40000, 32000),
        ("claude-sonnet-4-5", None, 8192),
        ("claude-sonnet-4-5", 20000, 20000),
    ],
)
def test_max_tokens_fit_the_claude_model(model: str, asked: int | None, sent: int) -> None:
    """Without max_tokens a default is sent, never above what older Claude models take."""
    assert _encode(ask(model=model, tools=[], max_tokens=asked))["max_tokens"] == sent


@pytest.mark.parametrize("model", ["claude-opus-4-1", "claude-3-7-sonnet-20250219"])
def test_thinking_budget_fits_the_claude_model(model: str) -> None:
    """`max` effort (32000) plus room for the answer exceeds Opus 4.1's 32000-token ceiling."""
    body = _encode(ask(model=model, tools=[], reasoning=ir.Reasoning(effort="max")))
    assert body["thinking"]["budget_tokens"] < body["max_tokens"]


def test_json_object_format_is_asked_for_in_the_system_prompt() -> None:
    """Anthropic has no "any JSON object" format: the system prompt asks for one instead."""
    body = _encode(ask(tools=[], response_format=ir.ResponseFormat(type="json_object")))
    assert "output_config" not in body
    assert "JSON object" in json.dumps(body["system"])


def test_schemas_without_additional_properties_are_closed() -> None:
    """OpenAI clients often leave `additionalProperties` out; Anthropic requires it false."""
    request = ask(
        tools=[ir.Tool(name="lookup", parameters=OPEN_SCHEMA, strict=True)],
        response_format=ir.ResponseFormat(type="json_schema", name="forecast", schema=OPEN_SCHEMA),
    )
    body = _encode(request)
    schema = body["output_config"]["format"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["days"]["items"]["additionalProperties"] is False
    assert body["tools"][0]["input_schema"]["additionalProperties"] is False


@pytest.mark.parametrize("filename", [None, "doc.pdf"])
def test_pdf_encodes_as_a_base64_document(filename: str | None) -> None:
    """The table of protocols.md 6.4."""
    document = msgspec.structs.replace(PDF, filename=filename)
    body = _encode(ask(user(ir.TextBlock(text="Summarise."), document), tools=[]))
    part = body["messages"][0]["content"][1]
    assert part["type"] == "document"
    assert part["source"] == {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}


@pytest.mark.parametrize(
    "block",
    [
        ir.ImageBlock(url=GEMINI_FILE_URI, media_type="image/png"),
        ir.DocumentBlock(url=GEMINI_FILE_URI, media_type="application/pdf"),
    ],
    ids=["image", "document"],
)
def test_gemini_file_uri_is_refused(block: ir.Block) -> None:
    """A Files API URI only Google can read: refused, rather than a confusing upstream error."""
    with pytest.raises(BadRequest) as caught:
        messages.encode_request(ask(user(ir.TextBlock(text="Describe."), block)))
    assert caught.value.status == 400 and "Gemini file URI" in caught.value.message


def test_consecutive_users_leading_assistant_and_mid_system_make_valid_turns() -> None:
    """Mid-conversation system text is hoisted; turns alternate, starting with the user
    (protocols.md 6.2, 6.3)."""
    request = ask(
        assistant(ir.TextBlock(text="Hello! How can I help?")),
        user(ir.TextBlock(text="First part.")),
        user(ir.TextBlock(text="Second part.")),
        ir.Message(role="system", content=[ir.TextBlock(text="Answer in French.")]),
        user(ir.TextBlock(text="Go.")),
        tools=[],
        system=[ir.TextBlock(text="Be brief.")],
    )
    body = _encode(request)
    assert texts(body["system"]) == ["Be brief.", "Answer in French."]
    assert [turn["role"] for turn in body["messages"]] == ["user", "assistant", "user"]
    sent = json.dumps(body["messages"])
    for text in ("Hello! How can I help?", "First part.", "Second part.", "Go."):
        assert text in sent


def test_end_user_is_metadata_temperature_is_clamped_and_seed_dropped() -> None:
    body = _encode(ask(tools=[], seed=7, user="user-42", temperature=1.5))
    assert body["metadata"] == {"user_id": "user-42"}
    assert body["temperature"] <= 1 and "seed" not in body


CALL_RESULT = ir.ToolResultBlock(call_id=CALL.id, content=[ir.TextBlock(text="sunny")])


@pytest.mark.parametrize("arguments", ["", "{bad json", "[1, 2]"], ids=["empty", "bad", "array"])
def test_odd_tool_arguments_in_history_become_an_object(arguments: str) -> None:
    """Empty means {}, garbage {} and a non-object is wrapped (protocols.md 6.7)."""
    call = ir.ToolCallBlock(id="call_1", name="get_weather", arguments=arguments)
    body = _encode(ask(user(ir.TextBlock(text="Weather?")), assistant(call), user(CALL_RESULT)))
    assert isinstance(body["messages"][1]["content"][0]["input"], dict)


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    """Anthropic requires input_schema (protocols.md 6.5)."""
    body = _encode(ask(tools=[ir.Tool(name="now")]))
    assert body["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]


def test_tool_error_result_is_flagged() -> None:
    body = _encode(tool_round(result=[ir.TextBlock(text="city not found")], is_error=True))
    result = body["messages"][2]["content"][0]
    assert result["is_error"] is True and "city not found" in json.dumps(result)


def test_empty_assistant_turn_and_empty_text_are_left_out() -> None:
    request = ask(
        user(ir.TextBlock(text="First.")),
        assistant(),
        user(ir.TextBlock(text=""), ir.TextBlock(text="Again.")),
        tools=[],
    )
    body = _encode(request)
    assert "" not in texts(body) and "Again." in texts(body)


# --- answers: Anthropic clients --------------------------------------------------------------


async def _parse_stream(body: bytes) -> anthropic.types.Message:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    client = anthropic.AsyncAnthropic(
        api_key="k", base_url="http://gateway.test", http_client=http_client, max_retries=0
    )
    question: list[anthropic.types.MessageParam] = [{"role": "user", "content": "x"}]
    async with client, client.messages.stream(model="m", max_tokens=256, messages=question) as s:
        return await s.get_final_message()


def _check_usage(message: anthropic.types.Message) -> None:
    """Anthropic counts input without the cached tokens."""
    assert message.usage.input_tokens == 40
    assert message.usage.cache_read_input_tokens == 60
    assert message.usage.output_tokens == 30


@pytest.mark.parametrize(
    "usage", [CACHED_USAGE, CACHED_USAGE_WITHOUT_REASONING], ids=["reasoning", "no-reasoning"]
)
def test_cached_and_reasoning_usage_encodes(usage: ir.Usage) -> None:
    body = messages.encode_response(answer("ok", usage), ir.Request(model="m", messages=[]))
    _check_usage(anthropic.types.Message.model_validate_json(body))


@pytest.mark.parametrize("shape", USAGE_SHAPES)
async def test_cached_and_reasoning_usage_streams(shape: str) -> None:
    events, _ = usage_stream(shape)
    encoder = messages.StreamEncoder(ir.Request(model="m", messages=[], stream=True))
    body = b"".join([frame for event in events for frame in encoder.feed(event)] + encoder.finish())
    _check_usage(await _parse_stream(body))


# --- answers: Anthropic upstreams ------------------------------------------------------------

UPSTREAM_USAGE = {
    "input_tokens": 40,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 60,
    "output_tokens": 30,
}


def _message(stop_reason: str, stop_sequence: str | None) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [{"type": "text", "text": "1 2 3"}],
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": UPSTREAM_USAGE,
    }


def _stream(stop_reason: str, stop_sequence: str | None) -> bytes:
    start = dict(_message(stop_reason, stop_sequence), content=[], stop_reason=None)
    start["stop_sequence"], start["usage"] = None, dict(UPSTREAM_USAGE, output_tokens=1)
    delta = {"stop_reason": stop_reason, "stop_sequence": stop_sequence}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "1 2 3"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": delta, "usage": UPSTREAM_USAGE},
        {"type": "message_stop"},
    ]
    return frames(events, named=True)


@pytest.mark.parametrize(
    ("stop_reason", "stop_sequence", "stop"),
    [("end_turn", None, "end"), ("stop_sequence", "STOP", "stop_sequence")],
    ids=["end", "stop-sequence"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
def test_stop_reason_and_cached_usage_decode(
    stream: bool, stop_reason: str, stop_sequence: str | None, stop: ir.StopReason
) -> None:
    """The Chat encoder has no stop_sequence reason: it relies on this one being told apart."""
    if stream:
        finish = decode_stream(messages.StreamDecoder(), _stream(stop_reason, stop_sequence))[-1]
        assert isinstance(finish, ir.Finish)
        decoded = (finish.stop_reason, finish.stop_sequence, finish.usage)
    else:
        response = messages.decode_response(
            msgspec.json.encode(_message(stop_reason, stop_sequence))
        )
        decoded = (response.stop_reason, response.stop_sequence, response.usage)
    assert decoded == (stop, stop_sequence, CACHED_USAGE_WITHOUT_REASONING)
