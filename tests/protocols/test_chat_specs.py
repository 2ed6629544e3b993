"""Chat Completions codec specs: the translation edge cases this codec owns, decoding what
Chat clients send and encoding what Chat upstreams accept (the shared IR is in cases.py).

Encoded bodies go through the strict mock's validator, as they did through the mock upstream.
"""

from __future__ import annotations

from typing import Any

import httpx2
import msgspec
import openai
import pytest
from openai.types.chat import ChatCompletion

from plexus import ir, sse
from plexus.errors import BadRequest
from plexus.protocols import chat
from tests.clients import PIXEL_PNG, WEATHER_TOOL
from tests.mocks.chat_upstream import validate
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
    WEATHER,
    answer,
    answer_events,
    ask,
    decode_stream,
    frames,
    texts,
    tool_round,
    usage_stream,
    user,
)

CHAT_TOOL = {"type": "function", "function": WEATHER_TOOL}
CALL_1 = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
}


def _decode(**body: Any) -> ir.Request:
    return chat.decode_request(msgspec.json.encode({"model": "m", **body}))


def _question(**body: Any) -> ir.Request:
    return _decode(messages=[{"role": "user", "content": "Hi"}], **body)


# --- decode: what Chat clients send ----------------------------------------------------------


@pytest.mark.parametrize("content", ["", None], ids=["empty", "null"])
def test_empty_assistant_content_beside_tool_calls_adds_no_text(content: str | None) -> None:
    """Content may be null beside tool calls; no empty text goes on (protocols.md 6.3)."""
    request = _decode(
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": content, "tool_calls": [CALL_1]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        tools=[CHAT_TOOL],
    )
    assert request.messages[1].content == [CALL]


@pytest.mark.parametrize(
    ("sent", "choice"),
    [
        ("none", ir.ToolChoice(mode="none")),
        ("auto", ir.ToolChoice(mode="auto")),
        ("required", ir.ToolChoice(mode="required")),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            ir.ToolChoice(mode="tool", name="get_weather"),
        ),
    ],
    ids=["none", "auto", "required", "named"],
)
def test_tool_choice_decodes(sent: Any, choice: ir.ToolChoice) -> None:
    """The table of protocols.md 6.6."""
    request = _question(tools=[CHAT_TOOL], tool_choice=sent)
    assert request.tool_choice == choice
    assert request.tools == [WEATHER]


def test_parallel_tool_calls_false_decodes_without_a_tool_choice() -> None:
    request = _question(tools=[CHAT_TOOL], parallel_tool_calls=False)
    assert request.parallel_tool_calls is False and request.tool_choice is None


@pytest.mark.parametrize(
    ("stop", "decoded"),
    [
        ("END", ["END"]),
        ("\n", ["\n"]),
        (["\n", "END", " ", "\n\n"], ["\n", "END", " ", "\n\n"]),
    ],
    ids=["string", "whitespace-string", "list"],
)
def test_stop_decodes_to_a_list_as_sent(stop: str | list[str], decoded: list[str]) -> None:
    """Whitespace-only stops are kept here: only an upstream that refuses them drops them."""
    assert _question(stop=stop).stop == decoded


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_either_max_tokens_field_sets_the_limit(field: str) -> None:
    assert _question(**{field: 123}).max_tokens == 123


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert _question(max_tokens=5, max_completion_tokens=123).max_tokens == 123


def test_no_max_tokens_leaves_the_limit_to_the_provider_codec() -> None:
    assert _question().max_tokens is None


def test_json_object_format_decodes() -> None:
    request = _question(response_format={"type": "json_object"})
    assert request.response_format == ir.ResponseFormat(type="json_object")


def test_schema_without_additional_properties_decodes_as_sent() -> None:
    """OpenAI clients often leave `additionalProperties` out; the Messages encoder closes them."""
    request = _question(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "forecast", "schema": OPEN_SCHEMA},
        },
        tools=[
            {
                "type": "function",
                "function": {"name": "lookup", "parameters": OPEN_SCHEMA, "strict": True},
            }
        ],
    )
    assert request.response_format == ir.ResponseFormat(
        type="json_schema", name="forecast", schema=OPEN_SCHEMA
    )
    assert request.tools == [ir.Tool(name="lookup", parameters=OPEN_SCHEMA, strict=True)]


def test_file_part_decodes_to_a_pdf_document() -> None:
    part = {
        "type": "file",
        "file": {"filename": "doc.pdf", "file_data": f"data:application/pdf;base64,{PDF_B64}"},
    }
    request = _decode(
        messages=[{"role": "user", "content": [{"type": "text", "text": "Summarise."}, part]}]
    )
    assert request.messages[0].content == [
        ir.TextBlock(text="Summarise."),
        ir.DocumentBlock(data=PDF_B64, media_type="application/pdf", filename="doc.pdf"),
    ]


def test_consecutive_users_leading_assistant_and_mid_system_decode() -> None:
    request = _decode(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "First part."},
            {"role": "user", "content": "Second part."},
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Go."},
        ]
    )
    assert request.system == [ir.TextBlock(text="Be brief.")]
    assert [(m.role, m.content) for m in request.messages] == [
        ("assistant", [ir.TextBlock(text="Hello! How can I help?")]),
        ("user", [ir.TextBlock(text="First part.")]),
        ("user", [ir.TextBlock(text="Second part.")]),
        ("system", [ir.TextBlock(text="Answer in French.")]),
        ("user", [ir.TextBlock(text="Go.")]),
    ]


def test_n_above_one_is_refused() -> None:
    """No other provider type answers several choices (protocols.md 6.11)."""
    with pytest.raises(BadRequest) as caught:
        _question(n=2)
    assert caught.value.status == 400 and caught.value.param == "n"
    assert "n" in caught.value.message


def test_logprobs_are_refused_not_dropped() -> None:
    """A client asking for logprobs would get `logprobs: null` from another provider type."""
    with pytest.raises(BadRequest) as caught:
        _question(logprobs=True, top_logprobs=2)
    assert caught.value.status == 400 and "logprobs" in caught.value.message


def test_seed_and_end_user_decode_and_other_settings_are_not_refused() -> None:
    request = _question(
        seed=7,
        user="user-42",
        metadata={"team": "a"},
        service_tier="auto",
        logprobs=False,
        temperature=1.5,
    )
    assert (request.seed, request.user, request.temperature) == (7, "user-42", 1.5)


@pytest.mark.parametrize("arguments", ["", "{bad json", "[1, 2]"], ids=["empty", "bad", "array"])
def test_odd_tool_arguments_in_history_are_kept_verbatim(arguments: str) -> None:
    """The encoders that need an object repair them (protocols.md 6.7)."""
    call = {**CALL_1, "function": {"name": "get_weather", "arguments": arguments}}
    request = _decode(
        messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        tools=[CHAT_TOOL],
    )
    assert request.messages[1].content == [
        ir.ToolCallBlock(id="call_1", name="get_weather", arguments=arguments)
    ]


def test_tool_without_parameters_decodes() -> None:
    request = _question(tools=[{"type": "function", "function": {"name": "now"}}])
    assert request.tools == [ir.Tool(name="now")]


def test_reasoning_effort_max_decodes() -> None:
    assert _question(reasoning_effort="max").reasoning == ir.Reasoning(effort="max")


def test_empty_tool_output_is_a_result_without_content() -> None:
    """A tool that printed nothing: each encoder says so in a way its upstream accepts."""
    request = _decode(
        messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [CALL_1]},
            {"role": "tool", "tool_call_id": "call_1", "content": ""},
        ],
        tools=[CHAT_TOOL],
    )
    assert request.messages[2].content == [
        ir.ToolResultBlock(call_id="call_1", content=[], name="get_weather")
    ]


def test_empty_assistant_turn_and_empty_user_part_decode_as_sent() -> None:
    """An aborted answer between two user turns: the encoders leave the empty text out."""
    request = _decode(
        messages=[
            {"role": "user", "content": "First."},
            {"role": "assistant", "content": ""},
            {
                "role": "user",
                "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Again."}],
            },
        ]
    )
    assert [(m.role, m.content) for m in request.messages] == [
        ("user", [ir.TextBlock(text="First.")]),
        ("assistant", []),
        ("user", [ir.TextBlock(text=""), ir.TextBlock(text="Again.")]),
    ]


# --- encode: what Chat upstreams accept ------------------------------------------------------


def _encode(request: ir.Request) -> dict[str, Any]:
    body = chat.encode_request(request)
    validate(body)
    return body


def test_empty_text_beside_a_tool_call_is_left_out() -> None:
    body = _encode(tool_round(ir.TextBlock(text="")))
    assistant = body["messages"][1]
    assert assistant["content"] is None and assistant["tool_calls"][0]["id"] == "call_1"
    assert "" not in texts(body)


def test_tool_result_image_follows_the_tool_message() -> None:
    """A `tool` message takes text only: the image follows in a user message (protocols.md
    6.8)."""
    after = (ir.TextBlock(text="What does it show?"),)
    body = _encode(tool_round(result=[ir.TextBlock(text="screenshot:"), PIXEL], after=after))
    tool, follow_up = body["messages"][2:]
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "screenshot:"}
    assert follow_up["role"] == "user"
    images = [part for part in follow_up["content"] if part["type"] == "image_url"]
    assert images[0]["image_url"]["url"] == f"data:image/png;base64,{PIXEL_PNG}"
    assert "What does it show?" in texts(follow_up)


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (ir.ToolChoice(mode="none"), "none"),
        (ir.ToolChoice(mode="auto"), "auto"),
        (ir.ToolChoice(mode="required"), "required"),
        (
            ir.ToolChoice(mode="tool", name="get_weather"),
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
    ids=["none", "auto", "required", "named"],
)
def test_tool_choice_encodes(choice: ir.ToolChoice, sent: Any) -> None:
    """The table of protocols.md 6.6."""
    assert _encode(ask(tool_choice=choice))["tool_choice"] == sent


@pytest.mark.parametrize("mode", ["auto", "required"])
def test_disabled_parallel_tool_use_encodes(mode: str) -> None:
    choice = ir.ToolChoice(mode="auto" if mode == "auto" else "required")
    body = _encode(ask(tool_choice=choice, parallel_tool_calls=False))
    assert body["parallel_tool_calls"] is False and body["tool_choice"] == mode


@pytest.mark.parametrize("count", [5, 8])
def test_stop_sequences_beyond_four_are_dropped(count: int) -> None:
    """Messages clients send many, Gemini clients up to 5; Chat takes 4: keep the first ones."""
    stops = [f"S{i}" for i in range(count)]
    assert _encode(ask(stop=stops, tools=[]))["stop"] == stops[:4]


@pytest.mark.parametrize("filename", [None, "doc.pdf"])
def test_pdf_encodes_as_a_named_file_part(filename: str | None) -> None:
    document = msgspec.structs.replace(PDF, filename=filename)
    body = _encode(ask(user(ir.TextBlock(text="Summarise."), document), tools=[]))
    file = body["messages"][0]["content"][1]["file"]
    assert file["file_data"] == f"data:application/pdf;base64,{PDF_B64}"
    assert file["filename"] == (filename or "document")


@pytest.mark.parametrize(
    "document",
    [ir.DocumentBlock(url="https://example.com/doc.pdf"), ir.DocumentBlock(url=GEMINI_FILE_URI)],
    ids=["url", "gemini-file-uri"],
)
def test_document_urls_are_refused(document: ir.DocumentBlock) -> None:
    """Chat file parts take data, not URLs (protocols.md 6.4)."""
    with pytest.raises(BadRequest) as caught:
        chat.encode_request(ask(user(ir.TextBlock(text="Summarise."), document)))
    assert caught.value.status == 400
    assert "document URLs are not supported" in caught.value.message


def test_gemini_file_uri_image_is_refused() -> None:
    """A Files API URI only Google can read: refused, rather than a confusing upstream error."""
    image = ir.ImageBlock(url=GEMINI_FILE_URI, media_type="image/png")
    with pytest.raises(BadRequest) as caught:
        chat.encode_request(ask(user(ir.TextBlock(text="Describe."), image)))
    assert caught.value.status == 400 and "Gemini file URI" in caught.value.message


def test_tool_error_result_says_so_in_its_text() -> None:
    """Chat has no error flag: `is_error` becomes a text prefix (protocols.md 6.8)."""
    error = tool_round(result=[ir.TextBlock(text="city not found")], is_error=True)
    body = _encode(error)
    assert body["messages"][2]["content"] == "Error: city not found"


# --- answers: Chat clients -------------------------------------------------------------------


def _parse(body: bytes) -> ChatCompletion:
    return ChatCompletion.model_validate_json(body)


async def _parse_stream(body: bytes) -> ChatCompletion:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    client = openai.AsyncOpenAI(
        api_key="k", base_url="http://gateway/v1", http_client=http_client, max_retries=0
    )
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "x"}
    ]
    async with client.chat.completions.stream(model="m", messages=messages) as stream:
        return await stream.get_final_completion()


def _encode_stream(events: list[ir.StreamEvent]) -> bytes:
    request = ir.Request(model="m", messages=[], stream=True, include_usage=True)
    encoder = chat.StreamEncoder(request)
    frames = [frame for event in events for frame in encoder.feed(event)]
    return b"".join(frames + encoder.finish())


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
async def test_stop_sequence_answer_finishes_with_stop(stream: bool) -> None:
    """Chat has no stop_sequence reason: an answer cut at one stop sequence is a plain stop."""
    if stream:
        finish = ir.Finish(stop_reason="stop_sequence", stop_sequence="STOP")
        completion = await _parse_stream(_encode_stream(answer_events("1 2 3", finish)))
    else:
        response = answer("1 2 3", stop_reason="stop_sequence", stop_sequence="STOP")
        completion = _parse(chat.encode_response(response, ir.Request(model="m", messages=[])))
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content == "1 2 3"


def _check_usage(completion: ChatCompletion, reasoning: bool) -> None:
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == 100
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 60
    assert usage.completion_tokens == 30 and usage.total_tokens == 130
    if reasoning:
        assert usage.completion_tokens_details is not None
        assert usage.completion_tokens_details.reasoning_tokens == 10


@pytest.mark.parametrize(
    "usage", [CACHED_USAGE, CACHED_USAGE_WITHOUT_REASONING], ids=["reasoning", "no-reasoning"]
)
def test_cached_and_reasoning_usage_encodes(usage: ir.Usage) -> None:
    body = chat.encode_response(answer("ok", usage), ir.Request(model="m", messages=[]))
    _check_usage(_parse(body), usage.reasoning_tokens is not None)


@pytest.mark.parametrize("shape", USAGE_SHAPES)
async def test_cached_and_reasoning_usage_streams(shape: str) -> None:
    events, reasoning = usage_stream(shape)
    _check_usage(await _parse_stream(_encode_stream(events)), reasoning)


# --- answers: Chat upstreams -----------------------------------------------------------------

UPSTREAM_USAGE = {
    "prompt_tokens": 100,
    "completion_tokens": 30,
    "total_tokens": 130,
    "prompt_tokens_details": {"cached_tokens": 60},
    "completion_tokens_details": {"reasoning_tokens": 10},
}


def _chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> dict[str, Any]:
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return {**head, "choices": choices, "usage": usage}


def test_cached_and_reasoning_usage_decodes() -> None:
    body = {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": UPSTREAM_USAGE,
    }
    assert chat.decode_response(msgspec.json.encode(body)).usage == CACHED_USAGE


def test_cached_and_reasoning_usage_decodes_from_the_stream() -> None:
    chunks = [
        _chunk([{"index": 0, "delta": {"role": "assistant", "content": "ok"}}]),
        _chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        _chunk([], UPSTREAM_USAGE),
    ]
    data = frames(chunks) + sse.DONE
    events = decode_stream(chat.StreamDecoder(), data)
    assert events[-1] == ir.Finish(stop_reason="end", raw_stop_reason="stop", usage=CACHED_USAGE)
