"""Translation edge cases that users of other gateways report, through the official SDKs.

Each test sends a valid request the way a real client does, to a provider of another type, and
checks both what the strict mock upstream received and what the client got back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest
from anthropic.types import Message
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from tests.clients import PIXEL_PNG, WEATHER_TOOL
from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply, ToolCall

PDF_B64 = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK"
CHAT_TOOL = {"type": "function", "function": WEATHER_TOOL}
AM_TOOL = {
    "name": WEATHER_TOOL["name"],
    "description": WEATHER_TOOL["description"],
    "input_schema": WEATHER_TOOL["parameters"],
}
RS_TOOL = {"type": "function", **WEATHER_TOOL, "strict": False}
OTHERS = {
    "chat": ("messages", "responses", "gemini"),
    "messages": ("chat", "responses", "gemini"),
    "responses": ("chat", "messages", "gemini"),
    "gemini": ("chat", "messages", "responses"),
}


@pytest.fixture
async def url(upstreams: Upstreams) -> AsyncIterator[str]:
    async with run_gateway(upstreams.config()) as base:
        yield base


def chat_client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key="gw", max_retries=0)


def am_client(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="gw", max_retries=0)


def gm_client(url: str) -> genai.Client:
    options = gtypes.HttpOptions(base_url=url, api_version="v1beta")
    return genai.Client(api_key="gw", http_options=options)


async def chat(url: str, **params: Any) -> ChatCompletion:
    """A Chat Completions call through the OpenAI SDK, with untyped params."""
    completion: ChatCompletion = await chat_client(url).chat.completions.create(**params)
    return completion


async def am(url: str, **params: Any) -> Message:
    """A Messages call through the Anthropic SDK, with untyped params."""
    message: Message = await am_client(url).messages.create(**params)
    return message


async def rs(url: str, **params: Any) -> Response:
    """A Responses call through the OpenAI SDK, with untyped params."""
    response: Response = await chat_client(url).responses.create(**params)
    return response


def last(upstreams: Upstreams, provider: str) -> dict[str, Any]:
    body: dict[str, Any] = upstreams.states[provider].received[-1].body
    return body


def texts(value: Any) -> list[str]:
    """Every `text` string anywhere in a body."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                found.append(item)
            else:
                found += texts(item)
    elif isinstance(value, list):
        for item in value:
            found += texts(item)
    return found


# --- 1. empty assistant text next to tool calls ----------------------------------------------


@pytest.mark.parametrize("provider", OTHERS["chat"])
@pytest.mark.parametrize("content", ["", None], ids=["empty", "null"])
async def test_chat_empty_assistant_content_with_tool_calls(
    upstreams: Upstreams, url: str, provider: str, content: str | None
) -> None:
    upstreams.states[provider].reply = Reply(text="Sunny.")
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": content,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    answer = await chat(url, model=f"{provider}-model", messages=messages, tools=[CHAT_TOOL])
    assert answer.choices[0].message.content == "Sunny."
    assert "" not in texts(last(upstreams, provider))


@pytest.mark.parametrize("provider", OTHERS["messages"])
async def test_messages_empty_text_block_with_tool_use(
    upstreams: Upstreams, url: str, provider: str
) -> None:
    upstreams.states[provider].reply = Reply(text="Sunny.")
    answer = await am(
        url,
        model=f"{provider}-model",
        max_tokens=256,
        tools=[AM_TOOL],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": ""},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"location": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}],
            },
        ],
    )
    assert answer.content[0].type == "text" and answer.content[0].text == "Sunny."
    assert "" not in texts(last(upstreams, provider))


@pytest.mark.parametrize("provider", OTHERS["responses"])
async def test_responses_empty_output_text_with_function_call(
    upstreams: Upstreams, url: str, provider: str
) -> None:
    upstreams.states[provider].reply = Reply(text="Sunny.")
    answer = await rs(
        url,
        model=f"{provider}-model",
        tools=[RS_TOOL],
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "", "annotations": []}],
            },
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"location": "Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
    )
    assert answer.output_text == "Sunny."
    assert "" not in texts(last(upstreams, provider))


# --- 2. tool results carrying images ---------------------------------------------------------


def image_sent(body: dict[str, Any]) -> bool:
    return PIXEL_PNG in json.dumps(body)


@pytest.mark.parametrize("provider", OTHERS["messages"])
async def test_messages_tool_result_with_image(
    upstreams: Upstreams, url: str, provider: str
) -> None:
    upstreams.states[provider].reply = Reply(text="A chart.")
    answer = await am(
        url,
        model=f"{provider}-model",
        max_tokens=256,
        tools=[AM_TOOL],
        messages=[
            {"role": "user", "content": "Screenshot the weather."},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"location": "Paris"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {"type": "text", "text": "screenshot:"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": PIXEL_PNG,
                                },
                            },
                        ],
                    },
                    {"type": "text", "text": "What does it show?"},
                ],
            },
        ],
    )
    assert answer.content[0].type == "text" and answer.content[0].text == "A chart."
    body = last(upstreams, provider)
    assert image_sent(body) and "screenshot:" in json.dumps(body)
    assert "What does it show?" in json.dumps(body)


@pytest.mark.parametrize("provider", OTHERS["responses"])
async def test_responses_function_call_output_with_image(
    upstreams: Upstreams, url: str, provider: str
) -> None:
    upstreams.states[provider].reply = Reply(text="A chart.")
    answer = await rs(
        url,
        model=f"{provider}-model",
        tools=[RS_TOOL],
        input=[
            {"role": "user", "content": "Screenshot the weather."},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"location": "Paris"}',
            },
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": [
                    {"type": "input_text", "text": "screenshot:"},
                    {
                        "type": "input_image",
                        "image_url": f"data:image/png;base64,{PIXEL_PNG}",
                        "detail": "auto",
                    },
                ],
            },
        ],
    )
    assert answer.output_text == "A chart."
    body = last(upstreams, provider)
    assert image_sent(body) and "screenshot:" in json.dumps(body)


# --- 3. tool_choice and parallel tool calls --------------------------------------------------

CHOICES: dict[str, dict[str, Any]] = {
    # client choice → what each provider must receive
    "none": {
        "chat": "none",
        "messages": {"type": "none"},
        "responses": "none",
        "gemini": {"mode": "NONE"},
    },
    "auto": {
        "chat": "auto",
        "messages": {"type": "auto"},
        "responses": "auto",
        "gemini": {"mode": "AUTO"},
    },
    "required": {
        "chat": "required",
        "messages": {"type": "any"},
        "responses": "required",
        "gemini": {"mode": "ANY"},
    },
    "named": {
        "chat": {"type": "function", "function": {"name": "get_weather"}},
        "messages": {"type": "tool", "name": "get_weather"},
        "responses": {"type": "function", "name": "get_weather"},
        "gemini": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
    },
}


def received_choice(body: dict[str, Any], provider: str) -> Any:
    if provider == "gemini":
        config = (body.get("toolConfig") or {}).get("functionCallingConfig")
        return config
    choice = body.get("tool_choice")
    if provider == "messages" and isinstance(choice, dict):
        choice = {k: v for k, v in choice.items() if k != "disable_parallel_tool_use"}
    return choice


@pytest.mark.parametrize("provider", OTHERS["chat"])
@pytest.mark.parametrize("choice", list(CHOICES))
async def test_chat_tool_choice(upstreams: Upstreams, url: str, provider: str, choice: str) -> None:
    await chat(
        url,
        model=f"{provider}-model",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[CHAT_TOOL],
        tool_choice=CHOICES[choice]["chat"],
    )
    assert received_choice(last(upstreams, provider), provider) == CHOICES[choice][provider]


@pytest.mark.parametrize("provider", OTHERS["messages"])
@pytest.mark.parametrize("choice", list(CHOICES))
async def test_messages_tool_choice(
    upstreams: Upstreams, url: str, provider: str, choice: str
) -> None:
    await am(
        url,
        model=f"{provider}-model",
        max_tokens=256,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[AM_TOOL],
        tool_choice=CHOICES[choice]["messages"],
    )
    assert received_choice(last(upstreams, provider), provider) == CHOICES[choice][provider]


@pytest.mark.parametrize("provider", OTHERS["responses"])
@pytest.mark.parametrize("choice", list(CHOICES))
async def test_responses_tool_choice(
    upstreams: Upstreams, url: str, provider: str, choice: str
) -> None:
    await rs(
        url,
        model=f"{provider}-model",
        input="Weather?",
        tools=[RS_TOOL],
        tool_choice=CHOICES[choice]["responses"],
    )
    assert received_choice(last(upstreams, provider), provider) == CHOICES[choice][provider]


@pytest.mark.parametrize("provider", ["messages", "responses"])
async def test_chat_parallel_tool_calls_false(
    upstreams: Upstreams, url: str, provider: str
) -> None:
    await chat(
        url,
        model=f"{provider}-model",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[CHAT_TOOL],
        parallel_tool_calls=False,
    )
    body = last(upstreams, provider)
    if provider == "messages":
        assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    else:
        assert body["parallel_tool_calls"] is False


@pytest.mark.parametrize("provider", ["chat", "responses"])
@pytest.mark.parametrize("kind", ["auto", "any"])
async def test_messages_disable_parallel_tool_use(
    upstreams: Upstreams, url: str, provider: str, kind: str
) -> None:
    await am(
        url,
        model=f"{provider}-model",
        max_tokens=256,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[AM_TOOL],
        tool_choice={"type": kind, "disable_parallel_tool_use": True},
    )
    body = last(upstreams, provider)
    assert body["parallel_tool_calls"] is False
    assert body["tool_choice"] == ("auto" if kind == "auto" else "required")


# --- 4. stop sequences -----------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["messages", "gemini"])
async def test_chat_stop_string(upstreams: Upstreams, url: str, provider: str) -> None:
    await chat(
        url, model=f"{provider}-model", messages=[{"role": "user", "content": "Count."}], stop="END"
    )
    body = last(upstreams, provider)
    stops = body.get("stop_sequences") or body["generationConfig"]["stopSequences"]
    assert stops == ["END"]


@pytest.mark.parametrize("provider", ["chat", "gemini"])
async def test_messages_many_stop_sequences(upstreams: Upstreams, url: str, provider: str) -> None:
    """Anthropic takes many stop sequences; chat takes 4 and Gemini 5: keep the first ones."""
    stops = [f"S{i}" for i in range(8)]
    answer = await am(
        url,
        model=f"{provider}-model",
        max_tokens=256,
        messages=[{"role": "user", "content": "Count."}],
        stop_sequences=stops,
    )
    assert answer.content
    body = last(upstreams, provider)
    sent = body.get("stop") or body["generationConfig"]["stopSequences"]
    assert sent == stops[: 4 if provider == "chat" else 5]


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
async def test_stop_sequence_reason_to_chat_and_responses(
    upstreams: Upstreams, url: str, stream: bool
) -> None:
    upstreams.states["messages"].reply = Reply(text="1 2 3", stop="stop_sequence")
    client = chat_client(url)
    params: dict[str, Any] = {
        "model": "messages-model",
        "messages": [{"role": "user", "content": "Count."}],
        "stop": ["STOP"],
    }
    if stream:
        async with client.chat.completions.stream(**params) as events:
            completion = await events.get_final_completion()
    else:
        completion = await client.chat.completions.create(**params)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content == "1 2 3"


# --- 5. max tokens ---------------------------------------------------------------------------


async def test_chat_without_max_tokens_to_messages(upstreams: Upstreams, url: str) -> None:
    await chat(url, model="messages-model", messages=[{"role": "user", "content": "Hi"}])
    assert last(upstreams, "messages")["max_tokens"] >= 1024


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("provider", OTHERS["chat"])
async def test_chat_max_tokens_fields(
    upstreams: Upstreams, url: str, provider: str, field: str
) -> None:
    await chat(
        url,
        model=f"{provider}-model",
        messages=[{"role": "user", "content": "Hi"}],
        **{field: 123},
    )
    body = last(upstreams, provider)
    sent = (
        body.get("max_tokens")
        or body.get("max_output_tokens")
        or body["generationConfig"]["maxOutputTokens"]
    )
    assert sent == 123


# --- 6. json_object ------------------------------------------------------------------------


@pytest.mark.parametrize("provider", OTHERS["chat"])
async def test_chat_json_object(upstreams: Upstreams, url: str, provider: str) -> None:
    upstreams.states[provider].reply = Reply(text='{"a": 1}')
    answer = await chat(
        url,
        model=f"{provider}-model",
        messages=[{"role": "user", "content": "Give JSON"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(answer.choices[0].message.content or "") == {"a": 1}
    body = last(upstreams, provider)
    match provider:
        case "messages":
            assert "JSON object" in json.dumps(body["system"])
        case "gemini":
            assert body["generationConfig"]["responseMimeType"] == "application/json"
        case "responses":
            assert body["text"]["format"] == {"type": "json_object"}


# --- 7. PDF documents ------------------------------------------------------------------------

PDF_INPUTS: dict[str, Any] = {
    "chat": {
        "type": "file",
        "file": {"filename": "doc.pdf", "file_data": f"data:application/pdf;base64,{PDF_B64}"},
    },
    "messages": {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64},
    },
    "responses": {
        "type": "input_file",
        "filename": "doc.pdf",
        "file_data": f"data:application/pdf;base64,{PDF_B64}",
    },
}


def pdf_received(body: dict[str, Any], provider: str) -> dict[str, Any]:
    """The one PDF part the upstream received, in its own format."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if PDF_B64 in json.dumps(value) and not any(
                isinstance(v, dict | list) and PDF_B64 in json.dumps(v) for v in value.values()
            ):
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body)
    assert found, body
    return found[0]


async def ask_with_pdf(url: str, client: str, provider: str) -> str:
    model = f"{provider}-model"
    if client == "chat":
        content = [{"type": "text", "text": "Summarise."}, PDF_INPUTS["chat"]]
        answer = await chat(url, model=model, messages=[{"role": "user", "content": content}])
        return answer.choices[0].message.content or ""
    if client == "messages":
        message = await am(
            url,
            model=model,
            max_tokens=256,
            messages=[
                {
                    "role": "user",
                    "content": [PDF_INPUTS["messages"], {"type": "text", "text": "Summarise."}],
                }
            ],
        )
        return "".join(b.text for b in message.content if b.type == "text")
    if client == "responses":
        response = await rs(
            url,
            model=model,
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "Summarise."},
                        PDF_INPUTS["responses"],
                    ],
                }
            ],
        )
        return response.output_text
    import base64

    result = await gm_client(url).aio.models.generate_content(
        model=model,
        contents=[
            gtypes.Content(
                role="user",
                parts=[
                    gtypes.Part(text="Summarise."),
                    gtypes.Part(
                        inline_data=gtypes.Blob(
                            mime_type="application/pdf", data=base64.b64decode(PDF_B64)
                        )
                    ),
                ],
            )
        ],
    )
    return result.text or ""


PDF_PAIRS = [(c, p) for c in ("chat", "messages", "responses", "gemini") for p in OTHERS[c]]


@pytest.mark.parametrize(("client", "provider"), PDF_PAIRS, ids=[f"{c}-{p}" for c, p in PDF_PAIRS])
async def test_pdf_input(upstreams: Upstreams, url: str, client: str, provider: str) -> None:
    upstreams.states[provider].reply = Reply(text="A PDF.")
    assert await ask_with_pdf(url, client, provider) == "A PDF."
    part = pdf_received(last(upstreams, provider), provider)
    match provider:
        case "chat":
            assert part["file_data"] == f"data:application/pdf;base64,{PDF_B64}"
            assert part.get("filename")
        case "messages":
            assert part == PDF_INPUTS["messages"]["source"]
        case "responses":
            assert part["type"] == "input_file"
            assert part["file_data"] == f"data:application/pdf;base64,{PDF_B64}"
            assert part.get("filename")
        case "gemini":
            assert part == {"mimeType": "application/pdf", "data": PDF_B64}


@pytest.mark.parametrize("provider", OTHERS["messages"])
async def test_messages_url_document(upstreams: Upstreams, url: str, provider: str) -> None:
    pdf_url = "https://example.com/doc.pdf"
    try:
        await am(
            url,
            model=f"{provider}-model",
            max_tokens=256,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "document", "source": {"type": "url", "url": pdf_url}},
                        {"type": "text", "text": "Summarise."},
                    ],
                }
            ],
        )
    except anthropic.BadRequestError as error:
        assert provider == "gemini" or "document" in str(error)
        return
    assert pdf_url in json.dumps(last(upstreams, provider))


# --- 8. turn structure -----------------------------------------------------------------------


@pytest.mark.parametrize("provider", OTHERS["chat"])
async def test_chat_consecutive_users_leading_assistant_mid_system(
    upstreams: Upstreams, url: str, provider: str
) -> None:
    upstreams.states[provider].reply = Reply(text="ok")
    answer = await chat(
        url,
        model=f"{provider}-model",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "First part."},
            {"role": "user", "content": "Second part."},
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Go."},
        ],
    )
    assert answer.choices[0].message.content == "ok"
    sent = json.dumps(last(upstreams, provider))
    for text in ("Be brief.", "Hello! How can I help?", "First part.", "Second part.", "Go."):
        assert text in sent
    assert "Answer in French." in sent


# --- 9. usage with cached and reasoning tokens -----------------------------------------------

USAGE_PAIRS = [(c, p) for c in ("chat", "messages", "responses", "gemini") for p in OTHERS[c]]


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
@pytest.mark.parametrize(
    ("client", "provider"), USAGE_PAIRS, ids=[f"{c}-{p}" for c, p in USAGE_PAIRS]
)
async def test_cached_and_reasoning_usage(
    upstreams: Upstreams, url: str, client: str, provider: str, stream: bool
) -> None:
    """100 input tokens of which 60 cached; 30 output of which 10 reasoning."""
    reasoning = provider != "messages"  # Anthropic does not report reasoning tokens apart
    upstreams.states[provider].reply = Reply(
        text="ok",
        input_tokens=100,
        cached_tokens=60,
        output_tokens=30,
        reasoning_tokens=10 if reasoning else 0,
    )
    model = f"{provider}-model"
    messages: Any = [{"role": "user", "content": "Hi"}]
    completion: ChatCompletion
    message: Message
    response: Response
    meta: gtypes.GenerateContentResponseUsageMetadata | None
    if client == "chat":
        openai_client = chat_client(url)
        if stream:
            async with openai_client.chat.completions.stream(
                model=model, messages=messages, stream_options={"include_usage": True}
            ) as events:
                completion = await events.get_final_completion()
        else:
            completion = await chat(url, model=model, messages=messages)
        usage = completion.usage
        assert usage is not None
        assert usage.prompt_tokens == 100
        assert usage.prompt_tokens_details is not None
        assert usage.prompt_tokens_details.cached_tokens == 60
        assert usage.completion_tokens == 30 and usage.total_tokens == 130
        if reasoning:
            assert usage.completion_tokens_details is not None
            assert usage.completion_tokens_details.reasoning_tokens == 10
    elif client == "messages":
        if stream:
            async with am_client(url).messages.stream(
                model=model, max_tokens=256, messages=messages
            ) as s:
                message = await s.get_final_message()
        else:
            message = await am(url, model=model, max_tokens=256, messages=messages)
        assert message.usage.input_tokens == 40
        assert message.usage.cache_read_input_tokens == 60
        assert message.usage.output_tokens == 30
    elif client == "responses":
        if stream:
            async with chat_client(url).responses.stream(model=model, input="Hi") as events:
                response = await events.get_final_response()
        else:
            response = await rs(url, model=model, input="Hi")
        assert response.usage is not None
        assert response.usage.input_tokens == 100
        assert response.usage.input_tokens_details.cached_tokens == 60
        assert response.usage.output_tokens == 30 and response.usage.total_tokens == 130
        if reasoning:
            assert response.usage.output_tokens_details.reasoning_tokens == 10
    else:
        gm = gm_client(url)
        if stream:
            chunks = [
                c
                async for c in await gm.aio.models.generate_content_stream(
                    model=model, contents="Hi"
                )
            ]
            meta = [c.usage_metadata for c in chunks if c.usage_metadata][-1]
        else:
            meta = (await gm.aio.models.generate_content(model=model, contents="Hi")).usage_metadata
        assert meta is not None
        assert meta.prompt_token_count == 100 and meta.cached_content_token_count == 60
        assert meta.total_token_count == 130
        assert (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0) == 30
        if reasoning:
            assert meta.thoughts_token_count == 10


# --- 10. misc parameters ---------------------------------------------------------------------


@pytest.mark.parametrize("provider", OTHERS["chat"])
async def test_chat_n_above_one_is_refused(upstreams: Upstreams, url: str, provider: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await chat(
            url, model=f"{provider}-model", messages=[{"role": "user", "content": "Hi"}], n=2
        )
    assert "n" in str(caught.value)
    assert not upstreams.states[provider].received


@pytest.mark.parametrize("provider", OTHERS["chat"])
async def test_chat_misc_parameters(upstreams: Upstreams, url: str, provider: str) -> None:
    """seed and the end-user id are mapped where the target has them; the rest is dropped."""
    await chat(
        url,
        model=f"{provider}-model",
        messages=[{"role": "user", "content": "Hi"}],
        seed=7,
        user="user-42",
        metadata={"team": "a"},
        service_tier="auto",
        logprobs=False,
        temperature=1.5,
    )
    body = last(upstreams, provider)
    match provider:
        case "messages":
            assert body["metadata"] == {"user_id": "user-42"}
            assert body["temperature"] <= 1
        case "gemini":
            assert body["generationConfig"]["seed"] == 7
        case "responses":
            assert body.get("safety_identifier") or body.get("user")


# --- tool calls and definitions across protocols ---------------------------------------------


@pytest.mark.parametrize("provider", ["messages", "gemini"])
@pytest.mark.parametrize("arguments", ["", "{bad json", "[1, 2]"], ids=["empty", "bad", "array"])
async def test_chat_odd_tool_arguments_in_history(
    upstreams: Upstreams, url: str, provider: str, arguments: str
) -> None:
    await chat(
        url,
        model=f"{provider}-model",
        tools=[CHAT_TOOL],
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
    )


@pytest.mark.parametrize("provider", OTHERS["chat"])
async def test_chat_tool_without_parameters(upstreams: Upstreams, url: str, provider: str) -> None:
    await chat(
        url,
        model=f"{provider}-model",
        messages=[{"role": "user", "content": "Time?"}],
        tools=[{"type": "function", "function": {"name": "now"}}],
    )
    assert "now" in json.dumps(last(upstreams, provider))


@pytest.mark.parametrize("provider", OTHERS["gemini"])
@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
async def test_gemini_dotted_tool_name(
    upstreams: Upstreams, url: str, provider: str, stream: bool
) -> None:
    """Gemini allows `.` and `:` in names (MCP style); the others take [a-zA-Z0-9_-] only."""
    upstreams.states[provider].reply = Reply(
        text="", tool_calls=[ToolCall("weather_get", {"location": "Paris"})], stop="tool_use"
    )
    declaration = gtypes.FunctionDeclaration(
        name="weather.get", description="Weather", parameters_json_schema=WEATHER_TOOL["parameters"]
    )
    config = gtypes.GenerateContentConfig(tools=[gtypes.Tool(function_declarations=[declaration])])
    client = gm_client(url)
    model = f"{provider}-model"
    if stream:
        chunks = [
            c
            async for c in await client.aio.models.generate_content_stream(
                model=model, contents="Weather?", config=config
            )
        ]
    else:
        chunks = [
            await client.aio.models.generate_content(
                model=model, contents="Weather?", config=config
            )
        ]
    sent = json.dumps(last(upstreams, provider))
    assert "weather.get" not in sent
    calls = [c.function_calls for c in chunks if c.function_calls]
    names = [call.name for group in calls for call in group]
    assert names == ["weather.get"]


@pytest.mark.parametrize("provider", ["chat"])
async def test_gemini_five_stop_sequences_to_chat(
    upstreams: Upstreams, url: str, provider: str
) -> None:
    config = gtypes.GenerateContentConfig(stop_sequences=["a", "b", "c", "d", "e"])
    await gm_client(url).aio.models.generate_content(
        model=f"{provider}-model", contents="Count", config=config
    )
    assert last(upstreams, provider)["stop"] == ["a", "b", "c", "d"]


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
async def test_max_tokens_fit_the_claude_model(
    upstreams: Upstreams, model: str, asked: int | None, sent: int
) -> None:
    """Without max_tokens a default is sent, never above what older Claude models take."""
    config = upstreams.config(
        {"models": {"claude": {"targets": [{"provider": "mock-messages", "model": model}]}}}
    )
    async with run_gateway(config) as base:
        params: dict[str, Any] = {
            "model": "claude",
            "messages": [{"role": "user", "content": "Hi"}],
        }
        if asked is not None:
            params["max_completion_tokens"] = asked
        await chat(base, **params)
    assert last(upstreams, "messages")["max_tokens"] == sent


@pytest.mark.parametrize("model", ["claude-opus-4-1", "claude-3-7-sonnet-20250219"])
async def test_thinking_budget_fits_the_claude_model(upstreams: Upstreams, model: str) -> None:
    """`max` effort (32000) plus room for the answer exceeds Opus 4.1's 32000-token ceiling."""
    config = upstreams.config(
        {"models": {"claude": {"targets": [{"provider": "mock-messages", "model": model}]}}}
    )
    async with run_gateway(config) as base:
        await chat(
            base,
            model="claude",
            messages=[{"role": "user", "content": "Think hard."}],
            reasoning_effort="max",
        )
    body = last(upstreams, "messages")
    assert body["thinking"]["budget_tokens"] < body["max_tokens"]


# --- structured output to Anthropic --------------------------------------------------------


async def test_chat_json_object_to_messages_is_prompted(upstreams: Upstreams, url: str) -> None:
    """Anthropic has no "any JSON object" format: the system prompt asks for one instead."""
    upstreams.states["messages"].reply = Reply(text='{"a": 1}')
    answer = await chat(
        url,
        model="messages-model",
        messages=[{"role": "user", "content": "Give JSON"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(answer.choices[0].message.content or "") == {"a": 1}
    body = last(upstreams, "messages")
    assert "output_config" not in body
    assert "JSON object" in json.dumps(body["system"])


OPEN_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "array", "items": {"type": "object", "properties": {"t": {}}}},
    },
    "required": ["city"],
}


async def test_schema_without_additional_properties_to_messages(
    upstreams: Upstreams, url: str
) -> None:
    """OpenAI clients often leave `additionalProperties` out; Anthropic requires it false."""
    upstreams.states["messages"].reply = Reply(text='{"city": "Paris"}')
    await chat(
        url,
        model="messages-model",
        messages=[{"role": "user", "content": "Give JSON"}],
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
    body = last(upstreams, "messages")
    schema = body["output_config"]["format"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["days"]["items"]["additionalProperties"] is False
    assert body["tools"][0]["input_schema"]["additionalProperties"] is False


@pytest.mark.parametrize("provider", OTHERS["chat"])
async def test_chat_logprobs_are_refused_not_dropped(
    upstreams: Upstreams, url: str, provider: str
) -> None:
    """A client asking for logprobs would get `logprobs: null` from another provider type."""
    with pytest.raises(openai.BadRequestError) as caught:
        await chat(
            url,
            model=f"{provider}-model",
            messages=[{"role": "user", "content": "Hi"}],
            logprobs=True,
            top_logprobs=2,
        )
    assert "logprobs" in str(caught.value)
    assert not upstreams.states[provider].received


async def test_chat_logprobs_pass_through_to_chat(upstreams: Upstreams, url: str) -> None:
    await chat(url, model="chat-model", messages=[{"role": "user", "content": "Hi"}], logprobs=True)
    assert last(upstreams, "chat")["logprobs"] is True


@pytest.mark.parametrize("provider", OTHERS["gemini"])
async def test_gemini_function_response_with_image(
    upstreams: Upstreams, url: str, provider: str
) -> None:
    import base64

    upstreams.states[provider].reply = Reply(text="A chart.")
    declaration = gtypes.FunctionDeclaration(
        name="get_weather", description="Weather", parameters_json_schema=WEATHER_TOOL["parameters"]
    )
    config = gtypes.GenerateContentConfig(tools=[gtypes.Tool(function_declarations=[declaration])])
    image = gtypes.FunctionResponsePart(
        inline_data=gtypes.FunctionResponseBlob(
            mime_type="image/png", data=base64.b64decode(PIXEL_PNG)
        )
    )
    contents = [
        gtypes.Content(role="user", parts=[gtypes.Part(text="Screenshot the weather.")]),
        gtypes.Content(
            role="model",
            parts=[
                gtypes.Part(
                    function_call=gtypes.FunctionCall(name="get_weather", args={"location": "P"})
                )
            ],
        ),
        gtypes.Content(
            role="user",
            parts=[
                gtypes.Part(
                    function_response=gtypes.FunctionResponse(
                        name="get_weather", response={"output": "screenshot:"}, parts=[image]
                    )
                )
            ],
        ),
    ]
    result = await gm_client(url).aio.models.generate_content(
        model=f"{provider}-model", contents=contents, config=config
    )
    assert result.text == "A chart."
    body = last(upstreams, provider)
    assert image_sent(body) and "screenshot:" in json.dumps(body)


@pytest.mark.parametrize("provider", OTHERS["chat"])
async def test_chat_empty_tool_result(upstreams: Upstreams, url: str, provider: str) -> None:
    """A tool that printed nothing: Anthropic refuses empty tool_result text, Gemini empty text."""
    upstreams.states[provider].reply = Reply(text="Done.")
    answer = await chat(
        url,
        model=f"{provider}-model",
        tools=[CHAT_TOOL],
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "P"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": ""},
        ],
    )
    assert answer.choices[0].message.content == "Done."
    assert "" not in texts(last(upstreams, provider))


@pytest.mark.parametrize("provider", OTHERS["messages"])
async def test_messages_tool_result_is_error(upstreams: Upstreams, url: str, provider: str) -> None:
    upstreams.states[provider].reply = Reply(text="Sorry.")
    await am(
        url,
        model=f"{provider}-model",
        max_tokens=256,
        tools=[AM_TOOL],
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": "city not found",
                        "is_error": True,
                    }
                ],
            },
        ],
    )
    sent = json.dumps(last(upstreams, provider))
    assert "city not found" in sent
    if provider == "gemini":
        assert '"error"' in sent


@pytest.mark.parametrize("provider", OTHERS["chat"])
async def test_chat_empty_assistant_turn(upstreams: Upstreams, url: str, provider: str) -> None:
    """An assistant turn that said nothing (an aborted answer) between two user turns."""
    upstreams.states[provider].reply = Reply(text="ok")
    answer = await chat(
        url,
        model=f"{provider}-model",
        messages=[
            {"role": "user", "content": "First."},
            {"role": "assistant", "content": ""},
            {
                "role": "user",
                "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Again."}],
            },
        ],
    )
    assert answer.choices[0].message.content == "ok"
    body = last(upstreams, provider)
    assert "" not in texts(body) and "Again." in json.dumps(body)


async def test_chat_whitespace_stop_to_messages(upstreams: Upstreams, url: str) -> None:
    """Anthropic refuses whitespace-only stop sequences, which completion clients often send."""
    await chat(
        url,
        model="messages-model",
        messages=[{"role": "user", "content": "One line."}],
        stop=["\n", "END", " ", "\n\n"],
    )
    assert last(upstreams, "messages")["stop_sequences"] == ["END"]


async def test_chat_only_whitespace_stop_to_messages(upstreams: Upstreams, url: str) -> None:
    await chat(url, model="messages-model", messages=[{"role": "user", "content": "Hi"}], stop="\n")
    assert "stop_sequences" not in last(upstreams, "messages")


@pytest.mark.parametrize("kind", ["image/png", "application/pdf"])
@pytest.mark.parametrize("provider", OTHERS["gemini"])
async def test_gemini_file_uri_to_other_providers_is_a_clear_400(
    upstreams: Upstreams, url: str, provider: str, kind: str
) -> None:
    """A Files API URI only Google can read: refused, rather than a confusing upstream error."""
    uri = "https://generativelanguage.googleapis.com/v1beta/files/abc123"
    contents = [
        gtypes.Content(
            role="user",
            parts=[
                gtypes.Part(text="Describe."),
                gtypes.Part(file_data=gtypes.FileData(file_uri=uri, mime_type=kind)),
            ],
        )
    ]
    with pytest.raises(genai.errors.ClientError) as caught:
        await gm_client(url).aio.models.generate_content(
            model=f"{provider}-model", contents=contents
        )
    message = str(caught.value)
    assert caught.value.code == 400
    assert "Gemini file URI" in message or "document URLs are not supported" in message
    assert not upstreams.states[provider].received


@pytest.mark.parametrize("provider", OTHERS["responses"])
@pytest.mark.parametrize("ask", ["top_logprobs", "include"])
async def test_responses_logprobs_are_refused_not_dropped(
    upstreams: Upstreams, url: str, provider: str, ask: str
) -> None:
    """Responses clients ask with top_logprobs or include; another provider type has none."""
    params: dict[str, Any] = (
        {"top_logprobs": 2}
        if ask == "top_logprobs"
        else {"include": ["message.output_text.logprobs"]}
    )
    with pytest.raises(openai.BadRequestError) as caught:
        await chat_client(url).responses.create(model=f"{provider}-model", input="Hi", **params)
    assert "logprobs" in str(caught.value)
    assert not upstreams.states[provider].received


async def test_responses_include_of_reasoning_is_not_refused(
    upstreams: Upstreams, url: str
) -> None:
    response = await chat_client(url).responses.create(
        model="messages-model", input="Hi", include=["reasoning.encrypted_content"]
    )
    assert response.output_text


@pytest.mark.parametrize("provider", OTHERS["gemini"])
async def test_gemini_logprobs_are_refused_not_dropped(
    upstreams: Upstreams, url: str, provider: str
) -> None:
    config = gtypes.GenerateContentConfig(response_logprobs=True, logprobs=2)
    with pytest.raises(genai_errors.ClientError) as caught:
        await gm_client(url).aio.models.generate_content(
            model=f"{provider}-model", contents="Hi", config=config
        )
    assert caught.value.code == 400 and "logprobs" in str(caught.value)
    assert not upstreams.states[provider].received
