"""Translation cases that need a running gateway, through the official SDKs or plain HTTP.

What one codec decides (decoding a client's body, encoding an upstream's) is specified in that
codec's own tests, tests/protocols/test_<codec>_specs.py; tests/test_matrix.py runs every client
SDK against every provider type. Left here: tool names renamed and restored by translate.py,
refusals answered as 400s before any upstream is called, and passthrough.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.clients import WEATHER_TOOL
from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply, ToolCall

OTHERS = {
    "chat": ("messages", "responses", "gemini"),
    "messages": ("chat", "responses", "gemini"),
    "responses": ("chat", "messages", "gemini"),
    "gemini": ("chat", "messages", "responses"),
}
GEMINI_FILE_URI = "https://generativelanguage.googleapis.com/v1beta/files/abc123"


@pytest.fixture
async def url(upstreams: Upstreams) -> AsyncIterator[str]:
    async with run_gateway(upstreams.config()) as base:
        yield base


def last(upstreams: Upstreams, provider: str) -> dict[str, Any]:
    body: dict[str, Any] = upstreams.states[provider].received[-1].body
    return body


# --- tool names (tool_names.py, applied by translate.py) -------------------------------------


@pytest.mark.parametrize("provider", OTHERS["gemini"])
@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
async def test_gemini_dotted_tool_name_is_renamed_and_restored(
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
    options = gtypes.HttpOptions(base_url=url, api_version="v1beta")
    client = genai.Client(api_key="gw", http_options=options)
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


# --- refusals: a 400 in the client's format, and no upstream call ----------------------------

HI_CHAT = {"messages": [{"role": "user", "content": "Hi"}]}
HI_GEMINI: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


def _file_uri(mime_type: str) -> dict[str, Any]:
    part = {"fileData": {"fileUri": GEMINI_FILE_URI, "mimeType": mime_type}}
    return {"contents": [{"role": "user", "parts": [{"text": "Describe."}, part]}]}


# (client, provider, body, what the message names); the codec specs hold every other pairing.
REFUSALS: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "chat-n": ("chat", "messages", {**HI_CHAT, "n": 2}, "n"),
    "chat-logprobs": (
        "chat",
        "gemini",
        {**HI_CHAT, "logprobs": True, "top_logprobs": 2},
        "logprobs",
    ),
    "responses-top-logprobs": ("responses", "chat", {"input": "Hi", "top_logprobs": 2}, "logprobs"),
    "responses-include-logprobs": (
        "responses",
        "messages",
        {"input": "Hi", "include": ["message.output_text.logprobs"]},
        "logprobs",
    ),
    "gemini-logprobs": (
        "gemini",
        "responses",
        {**HI_GEMINI, "generationConfig": {"responseLogprobs": True, "logprobs": 2}},
        "logprobs",
    ),
    "gemini-file-uri-image": ("gemini", "messages", _file_uri("image/png"), "Gemini file URI"),
    "gemini-file-uri-pdf": (
        "gemini",
        "chat",
        _file_uri("application/pdf"),
        "document URLs are not supported",
    ),
}


def _path(client: str, provider: str) -> str:
    if client == "gemini":
        return f"/v1beta/models/{provider}-model:generateContent"
    return "/v1/chat/completions" if client == "chat" else "/v1/responses"


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_refusals_are_400s_that_never_reach_the_upstream(
    upstreams: Upstreams, url: str, case: str
) -> None:
    """What a codec refuses (decoding the client's body or encoding the upstream's) is answered
    before any upstream is called, rather than dropped or left to a confusing upstream error."""
    client, provider, body, named = REFUSALS[case]
    payload = body if client == "gemini" else {"model": f"{provider}-model", **body}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + _path(client, provider), json=payload) as response,
    ):
        status, answer = response.status, await response.json()
    assert status == 400 and named in answer["error"]["message"]
    assert not upstreams.states[provider].received


# --- passthrough -----------------------------------------------------------------------------


async def test_chat_logprobs_pass_through_to_chat(upstreams: Upstreams, url: str) -> None:
    """Passthrough relays the body as sent: the Chat decoder, which refuses logprobs, is not
    on its path."""
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="gw", max_retries=0)
    await client.chat.completions.create(
        model="chat-model", messages=[{"role": "user", "content": "Hi"}], logprobs=True
    )
    assert last(upstreams, "chat")["logprobs"] is True
