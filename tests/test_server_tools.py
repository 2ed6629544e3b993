"""Server tool blocks through the gateway, official SDKs against the strict mocks (issue 11).

The mocks answer web searches and code runs in their own shapes and refuse, as the real APIs
do, any such block they did not issue: a turn sent back keeps each provider's own blocks
exactly, and a copy made of another family's tool reaches a provider only as text.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from plexus.config import Config
from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply, ServerTool
from tests.mocks.server_tools import anthropic_blocks, responses_items

SEARCH = ServerTool("web_search", "weather Paris", ["https://meteo.example/paris"])
CODE = ServerTool("code_execution", "print(6 * 7)", [], output="42\n")
AM_SEARCH_TOOL: Any = {"type": "web_search_20250305", "name": "web_search"}
QUESTION: Any = {"role": "user", "content": "Weather in Paris?"}
FOLLOW_UP: Any = {"role": "user", "content": "And tomorrow?"}


def _config(upstreams: Upstreams, api: str) -> Config:
    """An alias `tools` on a provider of `api` that is always translated, never passed through."""
    provider = {
        "type": api,
        "api_base_url": upstreams.base_url(api),
        "api_key": "upstream-key",
        "passthrough": False,
    }
    target = {"provider": f"translated-{api}", "model": "m"}
    return upstreams.config(
        {"providers": {f"translated-{api}": provider}, "models": {"tools": {"targets": [target]}}}
    )


def _sent(upstreams: Upstreams, api: str) -> dict[str, Any]:
    body: dict[str, Any] = upstreams.states[api].received[-1].body
    return body


async def _claude(
    url: str, messages: list[Any], stream: bool, tools: list[Any] | None = None
) -> anthropic.types.Message:
    client = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
    chosen: Any = [AM_SEARCH_TOOL] if tools is None else tools
    if stream:
        async with client.messages.stream(
            model="tools", max_tokens=512, messages=messages, tools=chosen
        ) as events:
            return await events.get_final_message()
    return await client.messages.create(
        model="tools", max_tokens=512, messages=messages, tools=chosen
    )


def _echo(message: anthropic.types.Message) -> list[dict[str, Any]]:
    """The assistant turn as an Anthropic client sends it back: the blocks as it got them."""
    return [block.model_dump(mode="json", exclude_unset=True) for block in message.content]


# --- Anthropic client, Anthropic provider: exact blocks ----------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
async def test_anthropic_search_blocks_round_trip_exactly(
    upstreams: Upstreams, stream: bool
) -> None:
    reply = Reply(text="Sunny, 22°C.", server_tools=[SEARCH])
    upstreams.states["messages"].replies = [reply, Reply(text="Rain.")]
    async with run_gateway(_config(upstreams, "messages")) as url:
        first = await _claude(url, [QUESTION], stream)
        assert [block.type for block in first.content] == [
            "server_tool_use",
            "web_search_tool_result",
            "text",
        ]
        history = [QUESTION, {"role": "assistant", "content": _echo(first)}, FOLLOW_UP]
        second = await _claude(url, history, stream)
    assert second.content[0].type == "text" and second.content[0].text == "Rain."
    # The mock checks each encrypted_content it minted: the blocks it issued came back as such.
    assert _sent(upstreams, "messages")["messages"][1]["content"][:2] == anthropic_blocks(reply)


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
async def test_a_paused_turn_is_resumed_with_its_pending_search(
    upstreams: Upstreams, stream: bool
) -> None:
    paused = Reply(text="Searching.", server_tools=[replace(SEARCH, pending=True)], stop="pause")
    upstreams.states["messages"].replies = [paused, Reply(text="Sunny.")]
    async with run_gateway(_config(upstreams, "messages")) as url:
        first = await _claude(url, [QUESTION], stream)
        assert first.stop_reason == "pause_turn"
        assert [block.type for block in first.content] == ["text", "server_tool_use"]
        resumed = [QUESTION, {"role": "assistant", "content": _echo(first)}]
        second = await _claude(url, resumed, stream)
        assert second.stop_reason == "end_turn"
        sent = _sent(upstreams, "messages")["messages"][-1]
        assert sent["content"] == [
            {"type": "text", "text": "Searching."},
            *anthropic_blocks(paused),
        ]
        # Resuming without the tool is refused, as the API refuses it.
        with pytest.raises(anthropic.BadRequestError, match="pending `web_search`"):
            await _claude(url, resumed, stream, tools=[])


# --- other clients of an Anthropic provider: shapes of their own, text upstream ----------------


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
async def test_a_responses_client_gets_claudes_search_as_a_web_search_call(
    upstreams: Upstreams, stream: bool
) -> None:
    upstreams.states["messages"].replies = [
        Reply(text="Sunny, 22°C.", server_tools=[SEARCH]),
        Reply(text="Rain."),
    ]
    async with run_gateway(_config(upstreams, "messages")) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        params: Any = {
            "model": "tools",
            "input": "Weather in Paris?",
            "tools": [{"type": "web_search"}],
        }
        if stream:
            async with client.responses.stream(**params) as events:
                first = await events.get_final_response()
        else:
            first = await client.responses.create(**params)
        search = first.output[0]
        assert search.type == "web_search_call" and search.id.startswith("plx_anthropic_")
        assert search.action.type == "search" and search.action.query == "weather Paris"
        assert first.output_text == "Sunny, 22°C."
        echo = [item.model_dump(mode="json", exclude_none=True) for item in first.output]
        turn: Any = [{"role": "user", "content": "Weather in Paris?"}, *echo]
        turn.append({"role": "user", "content": "And tomorrow?"})
        second = await client.responses.create(model="tools", input=turn, tools=params["tools"])
    assert second.output_text == "Rain."
    # A copy of Claude's search reaches Claude as text: the mock refuses any it did not mint.
    content = _sent(upstreams, "messages")["messages"][1]["content"]
    assert [block["type"] for block in content] == ["text", "text", "text"]
    assert content[0]["text"] == "[web_search] weather Paris"


async def test_a_chat_client_reads_claudes_search_as_text(upstreams: Upstreams) -> None:
    upstreams.states["messages"].reply = Reply(text="Sunny, 22°C.", server_tools=[SEARCH])
    config = _config(upstreams, "messages")
    config.providers["translated-messages"].extra_body = {"tools": [AM_SEARCH_TOOL]}
    async with run_gateway(config) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        answer = await client.chat.completions.create(
            model="tools", messages=[{"role": "user", "content": "Weather in Paris?"}]
        )
    message = answer.choices[0].message
    assert message.content == (
        "[web_search] weather Paris\n\n[web_search result]\n"
        "- meteo.example: https://meteo.example/paris\n\nSunny, 22°C."
    )
    assert answer.choices[0].finish_reason == "stop"


# --- Responses and Gemini providers ------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
async def test_responses_hosted_items_round_trip_exactly(
    upstreams: Upstreams, stream: bool
) -> None:
    reply = Reply(text="Sunny.", server_tools=[SEARCH, CODE])
    upstreams.states["responses"].replies = [reply, Reply(text="Rain.")]
    tools: Any = [
        {"type": "web_search"},
        {"type": "code_interpreter", "container": {"type": "auto"}},
    ]
    async with run_gateway(_config(upstreams, "responses")) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        params: Any = {
            "model": "tools",
            "input": "Weather in Paris?",
            "tools": tools,
            "store": False,
        }
        if stream:
            async with client.responses.stream(**params) as events:
                first = await events.get_final_response()
        else:
            first = await client.responses.create(**params)
        assert [item.type for item in first.output] == [
            "web_search_call",
            "code_interpreter_call",
            "message",
        ]
        echo = [item.model_dump(mode="json", exclude_none=True) for item in first.output]
        turn: Any = [{"role": "user", "content": "Weather in Paris?"}, *echo[:2]]
        await client.responses.create(**{**params, "input": turn})
    # The mock refuses hosted items without its own ids and fields: its items came back whole.
    assert _sent(upstreams, "responses")["input"][1:3] == responses_items(reply)


def _parts(answer: gtypes.GenerateContentResponse) -> list[gtypes.Part]:
    candidate = (answer.candidates or [gtypes.Candidate()])[0]
    return list(candidate.content.parts or []) if candidate.content else []


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
async def test_gemini_code_parts_round_trip_exactly(upstreams: Upstreams, stream: bool) -> None:
    upstreams.states["gemini"].replies = [Reply(text="It is 42.", server_tools=[CODE]), Reply()]
    tool = gtypes.Tool(code_execution=gtypes.ToolCodeExecution())
    config = gtypes.GenerateContentConfig(tools=[tool])
    async with run_gateway(_config(upstreams, "gemini")) as url:
        options = gtypes.HttpOptions(base_url=url, api_version="v1beta")
        client = genai.Client(api_key="k", http_options=options)
        ask: Any = {"model": "tools", "contents": "What is 6 times 7?", "config": config}
        if stream:
            stream_ = await client.aio.models.generate_content_stream(**ask)
            parts = [part async for chunk in stream_ for part in _parts(chunk)]
        else:
            parts = _parts(await client.aio.models.generate_content(**ask))
        code = [part for part in parts if part.executable_code or part.code_execution_result]
        assert [bool(part.executable_code) for part in code] == [True, False]
        model_turn = [part for part in parts if part.text != ""]  # never the closing empty part
        history = [
            gtypes.Content(role="user", parts=[gtypes.Part(text="What is 6 times 7?")]),
            gtypes.Content(role="model", parts=model_turn),
            gtypes.Content(role="user", parts=[gtypes.Part(text="Sure?")]),
        ]
        await client.aio.models.generate_content(model="tools", contents=history, config=config)
    sent = _sent(upstreams, "gemini")["contents"][1]["parts"]
    assert sent[:2] == [
        {"executableCode": {"code": "print(6 * 7)", "language": "PYTHON"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}},
    ]


async def test_an_anthropic_client_gets_geminis_code_run_and_sends_it_back_as_text(
    upstreams: Upstreams,
) -> None:
    upstreams.states["gemini"].replies = [Reply(text="It is 42.", server_tools=[CODE]), Reply()]
    async with run_gateway(_config(upstreams, "gemini")) as url:
        first = await _claude(url, [QUESTION], stream=False, tools=[])
        use, result = first.content[0], first.content[1]
        assert use.type == "server_tool_use" and use.name == "code_execution"
        assert result.type == "code_execution_tool_result"
        assert use.id.startswith("plx_gemini_")
        history = [QUESTION, {"role": "assistant", "content": _echo(first)}, FOLLOW_UP]
        await _claude(url, history, stream=False, tools=[])
    parts = _sent(upstreams, "gemini")["contents"][1]["parts"]
    assert parts[0] == {"text": "[code_execution]\n```\nprint(6 * 7)\n```"}
    assert parts[1] == {"text": "[code_execution result]\n42\n"}
