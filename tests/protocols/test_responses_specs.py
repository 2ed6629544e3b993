"""Responses codec specs: the translation edge cases this codec owns, decoding what Responses
clients send and encoding what the Responses API accepts (the shared IR is in cases.py).

Encoded bodies go through the strict mock's validator, as they did through the mock upstream.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import msgspec
import openai
import pytest
from openai.types.responses import Response

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import responses
from tests.clients import PIXEL_PNG, WEATHER_TOOL
from tests.mocks.responses_upstream import validate
from tests.protocols.cases import (
    CACHED_USAGE,
    CACHED_USAGE_WITHOUT_REASONING,
    CALL,
    GEMINI_FILE_URI,
    PDF,
    PDF_B64,
    PIXEL,
    USAGE_SHAPES,
    WEATHER,
    answer,
    answer_events,
    ask,
    assistant,
    decode_stream,
    frames,
    texts,
    tool_round,
    usage_stream,
    user,
)

RS_TOOL = {"type": "function", **WEATHER_TOOL, "strict": False}
FUNCTION_CALL = {
    "type": "function_call",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"location": "Paris"}',
}


def _decode(**body: Any) -> ir.Request:
    return responses.decode_request(json.dumps({"model": "m", **body}).encode())


# --- decode: what Responses clients send -----------------------------------------------------


def test_empty_output_text_beside_a_function_call_adds_no_text() -> None:
    request = _decode(
        tools=[RS_TOOL],
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "", "annotations": []}],
            },
            FUNCTION_CALL,
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
    )
    assert request.messages[1] == assistant(CALL)


def test_function_call_output_with_an_image_decodes() -> None:
    output = [
        {"type": "input_text", "text": "screenshot:"},
        {
            "type": "input_image",
            "image_url": f"data:image/png;base64,{PIXEL_PNG}",
            "detail": "auto",
        },
    ]
    request = _decode(
        tools=[RS_TOOL],
        input=[
            {"role": "user", "content": "Screenshot the weather."},
            FUNCTION_CALL,
            {"type": "function_call_output", "call_id": "call_1", "output": output},
        ],
    )
    image = ir.ImageBlock(data=PIXEL_PNG, media_type="image/png", detail="auto")
    assert request.messages[2] == user(
        ir.ToolResultBlock(
            call_id="call_1", content=[ir.TextBlock(text="screenshot:"), image], name="get_weather"
        )
    )


@pytest.mark.parametrize(
    ("sent", "choice"),
    [
        ("none", ir.ToolChoice(mode="none")),
        ("auto", ir.ToolChoice(mode="auto")),
        ("required", ir.ToolChoice(mode="required")),
        (
            {"type": "function", "name": "get_weather"},
            ir.ToolChoice(mode="tool", name="get_weather"),
        ),
    ],
    ids=["none", "auto", "required", "named"],
)
def test_tool_choice_decodes(sent: Any, choice: ir.ToolChoice) -> None:
    """The table of protocols.md 6.6."""
    request = _decode(input="Weather?", tools=[RS_TOOL], tool_choice=sent)
    assert request.tool_choice == choice
    assert request.tools == [msgspec.structs.replace(WEATHER, strict=False)]


def test_input_file_decodes_to_a_pdf_document() -> None:
    file = {
        "type": "input_file",
        "filename": "doc.pdf",
        "file_data": f"data:application/pdf;base64,{PDF_B64}",
    }
    request = _decode(
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Summarise."}, file]}]
    )
    assert request.messages[0] == user(
        ir.TextBlock(text="Summarise."), msgspec.structs.replace(PDF, filename="doc.pdf")
    )


@pytest.mark.parametrize(
    "ask_for",
    [{"top_logprobs": 2}, {"include": ["message.output_text.logprobs"]}],
    ids=["top_logprobs", "include"],
)
def test_logprobs_are_refused_not_dropped(ask_for: dict[str, Any]) -> None:
    """Responses clients ask with top_logprobs or include; another provider type has none."""
    with pytest.raises(BadRequest) as caught:
        _decode(input="Hi", **ask_for)
    assert caught.value.status == 400 and "logprobs" in caught.value.message


def test_include_of_reasoning_is_not_refused() -> None:
    request = _decode(input="Hi", include=["reasoning.encrypted_content"])
    assert request.messages == [user(ir.TextBlock(text="Hi"))]


# --- encode: what the Responses API accepts --------------------------------------------------


def _encode(request: ir.Request) -> dict[str, Any]:
    body = responses.encode_request(request)
    validate(body)
    return body


def test_empty_text_beside_a_tool_call_is_left_out() -> None:
    body = _encode(tool_round(ir.TextBlock(text="")))
    assert [item["type"] for item in body["input"]] == [
        "message",
        "function_call",
        "function_call_output",
    ]
    assert "" not in texts(body)


def test_tool_result_image_goes_in_the_function_call_output() -> None:
    """The rules of protocols.md 6.8."""
    after = (ir.TextBlock(text="What does it show?"),)
    request = tool_round(result=[ir.TextBlock(text="screenshot:"), PIXEL], after=after)
    output, question = _encode(request)["input"][2:]
    assert output["output"] == [
        {"type": "input_text", "text": "screenshot:"},
        {
            "type": "input_image",
            "image_url": f"data:image/png;base64,{PIXEL_PNG}",
            "detail": "auto",
        },
    ]
    assert question["content"] == [{"type": "input_text", "text": "What does it show?"}]


def test_empty_tool_result_is_an_empty_output() -> None:
    body = _encode(tool_round(result=[]))
    assert body["input"][2] == {"type": "function_call_output", "call_id": "call_1", "output": ""}
    assert "" not in texts(body)


def test_tool_error_result_says_so_in_its_output() -> None:
    """Responses has no error flag: `is_error` becomes a text prefix (protocols.md 6.8)."""
    body = _encode(tool_round(result=[ir.TextBlock(text="city not found")], is_error=True))
    assert body["input"][2]["output"] == "Error: city not found"


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (ir.ToolChoice(mode="none"), "none"),
        (ir.ToolChoice(mode="auto"), "auto"),
        (ir.ToolChoice(mode="required"), "required"),
        (
            ir.ToolChoice(mode="tool", name="get_weather"),
            {"type": "function", "name": "get_weather"},
        ),
    ],
    ids=["none", "auto", "required", "named"],
)
def test_tool_choice_encodes(choice: ir.ToolChoice, sent: Any) -> None:
    """The table of protocols.md 6.6."""
    assert _encode(ask(tool_choice=choice))["tool_choice"] == sent


@pytest.mark.parametrize(
    "choice",
    [None, ir.ToolChoice(mode="auto"), ir.ToolChoice(mode="required")],
    ids=["no-choice", "auto", "required"],
)
def test_parallel_tool_calls_false_encodes(choice: ir.ToolChoice | None) -> None:
    body = _encode(ask(tool_choice=choice, parallel_tool_calls=False))
    assert body["parallel_tool_calls"] is False
    assert body.get("tool_choice") == (choice.mode if choice else None)


def test_max_tokens_encode_as_max_output_tokens() -> None:
    assert _encode(ask(tools=[], max_tokens=123))["max_output_tokens"] == 123


def test_json_object_format_encodes() -> None:
    """The table of protocols.md 6.12."""
    body = _encode(ask(tools=[], response_format=ir.ResponseFormat(type="json_object")))
    assert body["text"]["format"] == {"type": "json_object"}


@pytest.mark.parametrize("filename", [None, "doc.pdf"])
def test_pdf_encodes_as_a_named_input_file(filename: str | None) -> None:
    document = msgspec.structs.replace(PDF, filename=filename)
    body = _encode(ask(user(ir.TextBlock(text="Summarise."), document), tools=[]))
    part = body["input"][0]["content"][1]
    assert part["type"] == "input_file"
    assert part["file_data"] == f"data:application/pdf;base64,{PDF_B64}"
    assert part["filename"] == (filename or "document.pdf")


def test_document_url_is_passed_on_as_a_file_url() -> None:
    document = ir.DocumentBlock(url="https://example.com/doc.pdf")
    body = _encode(ask(user(document, ir.TextBlock(text="Summarise.")), tools=[]))
    assert body["input"][0]["content"][0] == {
        "type": "input_file",
        "file_url": "https://example.com/doc.pdf",
    }


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
        responses.encode_request(ask(user(ir.TextBlock(text="Describe."), block)))
    assert caught.value.status == 400 and "Gemini file URI" in caught.value.message


def test_consecutive_users_leading_assistant_and_mid_system_are_all_sent() -> None:
    """Leading system text goes in `instructions`, later system text in a developer message
    (protocols.md 6.2)."""
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
    assert body["instructions"] == "Be brief."
    assert [item.get("role") for item in body["input"]] == [
        "assistant",
        "user",
        "user",
        "developer",
        "user",
    ]
    assert texts(body["input"]) == [
        "Hello! How can I help?",
        "First part.",
        "Second part.",
        "Answer in French.",
        "Go.",
    ]


def test_end_user_becomes_a_safety_identifier_and_seed_is_dropped() -> None:
    body = _encode(ask(tools=[], seed=7, user="user-42", temperature=1.5))
    assert body["safety_identifier"] == "user-42" and "seed" not in body


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    """The table of protocols.md 6.5."""
    body = _encode(ask(tools=[ir.Tool(name="now")]))
    assert body["tools"] == [
        {
            "type": "function",
            "name": "now",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        }
    ]


def test_empty_assistant_turn_and_empty_text_are_left_out() -> None:
    request = ask(
        user(ir.TextBlock(text="First.")),
        assistant(),
        user(ir.TextBlock(text=""), ir.TextBlock(text="Again.")),
        tools=[],
    )
    body = _encode(request)
    assert texts(body) == ["First.", "Again."]


# --- answers: Responses clients --------------------------------------------------------------


def _client(body: bytes, content_type: str) -> openai.OpenAI:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": content_type})

    http_client = httpx2.Client(transport=httpx2.MockTransport(answer))
    return openai.OpenAI(api_key="k", base_url="http://plexus.test/v1", http_client=http_client)


def _check_usage(response: Response, reasoning: bool) -> None:
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == 100
    assert usage.input_tokens_details.cached_tokens == 60
    assert usage.output_tokens == 30 and usage.total_tokens == 130
    if reasoning:
        assert usage.output_tokens_details.reasoning_tokens == 10


def _encode_stream(events: list[ir.StreamEvent]) -> bytes:
    encoder = responses.StreamEncoder(ir.Request(model="m", messages=[], stream=True))
    return b"".join([frame for event in events for frame in encoder.feed(event)] + encoder.finish())


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
def test_stop_sequence_answer_completes(stream: bool) -> None:
    """Responses has no stop reason beside its status: an answer cut at a stop sequence is
    simply complete (protocols.md 6.14)."""
    parsed: Response
    if stream:
        finish = ir.Finish(stop_reason="stop_sequence", stop_sequence="STOP")
        data = _encode_stream(answer_events("1 2 3", finish))
        with _client(data, "text/event-stream").responses.stream(model="m", input="x") as events:
            parsed = events.get_final_response()
    else:
        response = answer("1 2 3", stop_reason="stop_sequence", stop_sequence="STOP")
        data = responses.encode_response(response, ir.Request(model="m", messages=[]))
        parsed = _client(data, "application/json").responses.create(model="m", input="x")
    assert parsed.status == "completed" and parsed.output_text == "1 2 3"


@pytest.mark.parametrize(
    "usage", [CACHED_USAGE, CACHED_USAGE_WITHOUT_REASONING], ids=["reasoning", "no-reasoning"]
)
def test_cached_and_reasoning_usage_encodes(usage: ir.Usage) -> None:
    body = responses.encode_response(answer("ok", usage), ir.Request(model="m", messages=[]))
    parsed = _client(body, "application/json").responses.create(model="m", input="Hi")
    _check_usage(parsed, usage.reasoning_tokens is not None)


@pytest.mark.parametrize("shape", USAGE_SHAPES)
def test_cached_and_reasoning_usage_streams(shape: str) -> None:
    events, reasoning = usage_stream(shape)
    body = _encode_stream(events)
    with _client(body, "text/event-stream").responses.stream(model="m", input="Hi") as stream:
        final = stream.get_final_response()
    _check_usage(final, reasoning)


# --- answers: Responses upstreams ------------------------------------------------------------

UPSTREAM_USAGE = {
    "input_tokens": 100,
    "input_tokens_details": {"cached_tokens": 60},
    "output_tokens": 30,
    "output_tokens_details": {"reasoning_tokens": 10},
    "total_tokens": 130,
}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "ok", "annotations": []}],
}
RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "m",
    "output": [MESSAGE],
    "usage": UPSTREAM_USAGE,
}


def test_cached_and_reasoning_usage_decodes() -> None:
    assert responses.decode_response(msgspec.json.encode(RESPONSE)).usage == CACHED_USAGE


def test_cached_and_reasoning_usage_decodes_from_the_stream() -> None:
    at = {"item_id": "msg_1", "output_index": 0}
    started = dict(RESPONSE, status="in_progress", output=[], usage=None)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**MESSAGE, "content": []},
        },
        {"type": "response.output_text.delta", **at, "content_index": 0, "delta": "ok"},
        {"type": "response.output_item.done", "output_index": 0, "item": MESSAGE},
        {"type": "response.completed", "response": RESPONSE},
    ]
    numbered = [{**event, "sequence_number": n} for n, event in enumerate(events)]
    finish = decode_stream(responses.StreamDecoder(), frames(numbered, named=True))[-1]
    assert isinstance(finish, ir.Finish) and finish.usage == CACHED_USAGE
