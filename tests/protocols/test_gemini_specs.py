"""Gemini codec specs: the translation edge cases this codec owns, decoding what google-genai
clients send and encoding what the Gemini API accepts (the shared IR is in cases.py).

Client bodies are the ones the google-genai SDK sends, snake_case keys and URL-safe base64
included; encoded bodies go through the strict mock's validator, as they did through the mock.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import msgspec
import pytest
from google import genai
from google.genai import types as gtypes

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import gemini
from tests.clients import PIXEL_PNG, WEATHER_TOOL
from tests.mocks.gemini_upstream import validate
from tests.protocols.cases import (
    CACHED_USAGE,
    CACHED_USAGE_WITHOUT_REASONING,
    GEMINI_FILE_URI,
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


def _decode(**body: Any) -> ir.Request:
    return gemini.decode_request(json.dumps(body).encode())


def _url_safe(data: str) -> str:
    """Base64 as the google-genai SDK sends bytes."""
    return data.replace("+", "-").replace("/", "_")


# --- decode: what google-genai clients send --------------------------------------------------


def test_function_response_with_an_image_decodes() -> None:
    image = {"inline_data": {"mime_type": "image/png", "data": _url_safe(PIXEL_PNG)}}
    response = {"parts": [image], "name": "get_weather", "response": {"output": "screenshot:"}}
    declaration = {
        "description": "Weather",
        "name": "get_weather",
        "parameters_json_schema": WEATHER_TOOL["parameters"],
    }
    request = _decode(
        contents=[
            {"parts": [{"text": "Screenshot the weather."}], "role": "user"},
            {
                "parts": [{"functionCall": {"args": {"location": "P"}, "name": "get_weather"}}],
                "role": "model",
            },
            {"parts": [{"functionResponse": response}], "role": "user"},
        ],
        tools=[{"functionDeclarations": [declaration]}],
        generationConfig={},
    )
    call = request.messages[1].content[0]
    assert isinstance(call, ir.ToolCallBlock)
    assert request.messages[2] == user(
        ir.ToolResultBlock(
            call_id=call.id,
            content=[ir.TextBlock(text="screenshot:"), PIXEL],
            name="get_weather",
        )
    )


def test_snake_case_inline_pdf_decodes_to_standard_base64() -> None:
    pdf = {"inlineData": {"data": _url_safe(PDF_B64), "mime_type": "application/pdf"}}
    request = _decode(contents=[{"parts": [{"text": "Summarise."}, pdf], "role": "user"}])
    assert request.messages[0] == user(ir.TextBlock(text="Summarise."), PDF)


@pytest.mark.parametrize(
    ("mime_type", "block"),
    [
        ("image/png", ir.ImageBlock(url=GEMINI_FILE_URI, media_type="image/png")),
        ("application/pdf", ir.DocumentBlock(url=GEMINI_FILE_URI, media_type="application/pdf")),
    ],
    ids=["image", "document"],
)
def test_file_uri_decodes_to_a_url(mime_type: str, block: ir.Block) -> None:
    """Only a Gemini upstream can read it: the other encoders refuse it."""
    part = {"fileData": {"file_uri": GEMINI_FILE_URI, "mime_type": mime_type}}
    request = _decode(contents=[{"parts": [{"text": "Describe."}, part], "role": "user"}])
    assert request.messages[0] == user(ir.TextBlock(text="Describe."), block)


def test_five_stop_sequences_decode() -> None:
    """Gemini takes 5 stop sequences; the Chat encoder keeps the 4 it takes."""
    request = _decode(
        contents=[{"parts": [{"text": "Count"}], "role": "user"}],
        generationConfig={"stopSequences": ["a", "b", "c", "d", "e"]},
    )
    assert request.stop == ["a", "b", "c", "d", "e"]


def test_logprobs_are_refused_not_dropped() -> None:
    with pytest.raises(BadRequest) as caught:
        _decode(
            contents=[{"parts": [{"text": "Hi"}], "role": "user"}],
            generationConfig={"responseLogprobs": True, "logprobs": 2},
        )
    assert caught.value.status == 400 and "logprobs" in caught.value.message


# --- encode: what the Gemini API accepts -----------------------------------------------------


def _encode(request: ir.Request) -> dict[str, Any]:
    body = gemini.encode_request(request)
    validate(body, request.model)
    return body


def _result(body: dict[str, Any]) -> dict[str, Any]:
    """The functionResponse of the tool-round user turn."""
    response: dict[str, Any] = body["contents"][2]["parts"][0]["functionResponse"]
    return response


def test_empty_text_beside_a_tool_call_is_left_out() -> None:
    body = _encode(tool_round(ir.TextBlock(text="")))
    assert body["contents"][1]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}
    ]
    assert "" not in texts(body)


def test_tool_result_image_goes_in_the_function_response_parts() -> None:
    """The rules of protocols.md 6.8."""
    after = (ir.TextBlock(text="What does it show?"),)
    body = _encode(tool_round(result=[ir.TextBlock(text="screenshot:"), PIXEL], after=after))
    assert _result(body) == {
        "name": "get_weather",
        "response": {"output": "screenshot:"},
        "parts": [{"inlineData": {"mimeType": "image/png", "data": PIXEL_PNG}}],
    }
    assert body["contents"][2]["parts"][1] == {"text": "What does it show?"}


def test_empty_tool_result_is_an_empty_output() -> None:
    """Gemini refuses an empty text part; an empty output in the response object is fine."""
    body = _encode(tool_round(result=[]))
    assert _result(body)["response"] == {"output": ""}
    assert "" not in texts(body)


def test_tool_error_result_is_an_error_response() -> None:
    """The rules of protocols.md 6.8."""
    body = _encode(tool_round(result=[ir.TextBlock(text="city not found")], is_error=True))
    assert _result(body)["response"] == {"error": "city not found"}


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (ir.ToolChoice(mode="none"), {"mode": "NONE"}),
        (ir.ToolChoice(mode="auto"), {"mode": "AUTO"}),
        (ir.ToolChoice(mode="required"), {"mode": "ANY"}),
        (
            ir.ToolChoice(mode="tool", name="get_weather"),
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
    ids=["none", "auto", "required", "named"],
)
def test_tool_choice_encodes(choice: ir.ToolChoice, sent: dict[str, Any]) -> None:
    """The table of protocols.md 6.6."""
    body = _encode(ask(tool_choice=choice))
    assert body["toolConfig"]["functionCallingConfig"] == sent


@pytest.mark.parametrize(
    ("stops", "sent"),
    [(["END"], ["END"]), ([f"S{i}" for i in range(8)], [f"S{i}" for i in range(5)])],
    ids=["one", "beyond-five"],
)
def test_stop_sequences_beyond_five_are_dropped(stops: list[str], sent: list[str]) -> None:
    """The table of protocols.md 6.11."""
    body = _encode(ask(tools=[], stop=stops))
    assert body["generationConfig"]["stopSequences"] == sent


def test_max_tokens_encode_as_max_output_tokens() -> None:
    assert _encode(ask(tools=[], max_tokens=123))["generationConfig"]["maxOutputTokens"] == 123


def test_json_object_format_asks_for_json() -> None:
    """The table of protocols.md 6.12."""
    body = _encode(ask(tools=[], response_format=ir.ResponseFormat(type="json_object")))
    assert body["generationConfig"] == {"responseMimeType": "application/json"}


@pytest.mark.parametrize("filename", [None, "doc.pdf"])
def test_pdf_encodes_as_inline_data(filename: str | None) -> None:
    """The table of protocols.md 6.4."""
    document = msgspec.structs.replace(PDF, filename=filename)
    body = _encode(ask(user(ir.TextBlock(text="Summarise."), document), tools=[]))
    assert body["contents"][0]["parts"][1] == {
        "inlineData": {"mimeType": "application/pdf", "data": PDF_B64}
    }


def test_document_url_is_passed_on_as_file_data() -> None:
    document = ir.DocumentBlock(url="https://example.com/doc.pdf")
    body = _encode(ask(user(document, ir.TextBlock(text="Summarise.")), tools=[]))
    assert body["contents"][0]["parts"][0] == {
        "fileData": {"fileUri": "https://example.com/doc.pdf", "mimeType": "application/pdf"}
    }


def test_consecutive_users_leading_assistant_and_mid_system_make_valid_contents() -> None:
    """Gemini has no mid-conversation system role (protocols.md 6.2): it is hoisted."""
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
    assert texts(body["systemInstruction"]) == ["Be brief.", "Answer in French."]
    assert [content["role"] for content in body["contents"]] == ["model", "user"]
    assert texts(body["contents"]) == [
        "Hello! How can I help?",
        "First part.",
        "Second part.",
        "Go.",
    ]


def test_seed_encodes() -> None:
    body = _encode(ask(tools=[], seed=7, user="user-42", temperature=1.5))
    assert body["generationConfig"]["seed"] == 7


@pytest.mark.parametrize("arguments", ["", "{bad json", "[1, 2]"], ids=["empty", "bad", "array"])
def test_odd_tool_arguments_in_history_become_an_object(arguments: str) -> None:
    """Empty means {}, garbage {} and a non-object is wrapped (protocols.md 6.7)."""
    call = ir.ToolCallBlock(id="call_1", name="get_weather", arguments=arguments)
    result = ir.ToolResultBlock(call_id="call_1", content=[ir.TextBlock(text="sunny")])
    body = _encode(ask(user(ir.TextBlock(text="Weather?")), assistant(call), user(result)))
    assert isinstance(body["contents"][1]["parts"][0]["functionCall"]["args"], dict)


def test_tool_without_parameters_is_declared_by_name() -> None:
    """The table of protocols.md 6.5."""
    body = _encode(ask(tools=[ir.Tool(name="now")]))
    assert body["tools"] == [{"functionDeclarations": [{"name": "now"}]}]


def test_empty_assistant_turn_and_empty_text_are_left_out() -> None:
    request = ask(
        user(ir.TextBlock(text="First.")),
        assistant(),
        user(ir.TextBlock(text=""), ir.TextBlock(text="Again.")),
        tools=[],
    )
    body = _encode(request)
    assert texts(body) == ["First.", "Again."]


# --- answers: google-genai clients -----------------------------------------------------------


def _client(body: bytes) -> genai.Client:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    transport = httpx2.AsyncClient(transport=httpx2.MockTransport(answer))
    options = gtypes.HttpOptions(base_url="http://gemini.test", httpx_async_client=transport)
    return genai.Client(api_key="k", http_options=options)


def _check_usage(meta: gtypes.GenerateContentResponseUsageMetadata | None, reasoning: bool) -> None:
    assert meta is not None
    assert meta.prompt_token_count == 100 and meta.cached_content_token_count == 60
    assert meta.total_token_count == 130
    assert (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0) == 30
    if reasoning:
        assert meta.thoughts_token_count == 10


@pytest.mark.parametrize(
    "usage", [CACHED_USAGE, CACHED_USAGE_WITHOUT_REASONING], ids=["reasoning", "no-reasoning"]
)
async def test_cached_and_reasoning_usage_encodes(usage: ir.Usage) -> None:
    body = gemini.encode_response(answer("ok", usage), ir.Request(model="m", messages=[]))
    result = await _client(body).aio.models.generate_content(model="m", contents="Hi")
    _check_usage(result.usage_metadata, usage.reasoning_tokens is not None)


@pytest.mark.parametrize("shape", USAGE_SHAPES)
async def test_cached_and_reasoning_usage_streams(shape: str) -> None:
    events, reasoning = usage_stream(shape)
    encoder = gemini.StreamEncoder(ir.Request(model="m", messages=[], stream=True))
    body = b"".join([frame for event in events for frame in encoder.feed(event)] + encoder.finish())
    stream = await _client(body).aio.models.generate_content_stream(model="m", contents="Hi")
    chunks = [chunk async for chunk in stream]
    meta = [chunk.usage_metadata for chunk in chunks if chunk.usage_metadata][-1]
    _check_usage(meta, reasoning)


# --- answers: Gemini upstreams ---------------------------------------------------------------

UPSTREAM_USAGE = {
    "promptTokenCount": 100,
    "cachedContentTokenCount": 60,
    "candidatesTokenCount": 20,
    "thoughtsTokenCount": 10,
    "totalTokenCount": 130,
}


def _chunk(text: str, usage: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": "m",
        "responseId": "r",
    }


def test_cached_and_reasoning_usage_decodes() -> None:
    body = msgspec.json.encode(_chunk("ok", UPSTREAM_USAGE, "STOP"))
    assert gemini.decode_response(body).usage == CACHED_USAGE


def test_cached_and_reasoning_usage_decodes_from_the_stream() -> None:
    """The input is counted on every chunk; the output only on the last."""
    first = {"promptTokenCount": 100, "cachedContentTokenCount": 60, "totalTokenCount": 100}
    data = frames([_chunk("ok", first), _chunk("", UPSTREAM_USAGE, "STOP")])
    finish = decode_stream(gemini.StreamDecoder(), data)[-1]
    assert isinstance(finish, ir.Finish) and finish.usage == CACHED_USAGE
