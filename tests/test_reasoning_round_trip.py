"""Reasoning signatures survive Chat Completions clients that send no `reasoning_details` back
(issue 11 bug 7: LangChain, pydantic-ai, litellm, the AI SDK's `.chat()` all drop them)."""

from __future__ import annotations

from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply, ToolCall
from tests.mocks.messages_upstream import mock_signature

TOOLS: Any = [
    {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    }
]
ASK: Any = {"role": "user", "content": "What time is it?"}


def _config(upstreams: Upstreams, provider: str, model: str) -> Any:
    target = {"provider": f"mock-{provider}", "model": model}
    return upstreams.config({"models": {"thinker": {"targets": [target]}}})


async def _tool_loop(url: str, stream: bool, echo_reasoning: bool) -> str:
    """Turn 1 asks for a tool; turn 2 sends the result back the way most client libraries do:
    the assistant turn with its tool calls and content, without `reasoning_details`."""
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
    options: Any = {"model": "thinker", "tools": TOOLS, "reasoning_effort": "high"}
    if stream:
        calls: dict[int, dict[str, Any]] = {}
        reasoning = ""
        async for chunk in await client.chat.completions.create(
            messages=[ASK], stream=True, **options
        ):
            delta: Any = chunk.choices[0].delta if chunk.choices else None
            if delta is None:
                continue
            reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
            for call in delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] = call.id or entry["id"]
                entry["name"] = (call.function and call.function.name) or entry["name"]
                entry["arguments"] += (call.function and call.function.arguments) or ""
        call_id, name, arguments = calls[0]["id"], calls[0]["name"], calls[0]["arguments"]
    else:
        first = await client.chat.completions.create(messages=[ASK], **options)
        message: Any = first.choices[0].message
        reasoning = (message.model_extra or {}).get("reasoning_content") or ""
        call = message.tool_calls[0]
        call_id, name, arguments = call.id, call.function.name, call.function.arguments
    assistant: Any = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        ],
    }
    if echo_reasoning:
        assistant["reasoning_content"] = reasoning
    result: Any = {"role": "tool", "tool_call_id": call_id, "content": "10:42"}
    second = await client.chat.completions.create(messages=[ASK, assistant, result], **options)
    return second.choices[0].message.content or ""


@pytest.mark.parametrize("stream", [False, True])
async def test_gemini_3_gets_its_thought_signature_back_on_the_call(
    upstreams: Upstreams, stream: bool
) -> None:
    state = upstreams.states["gemini"]
    state.replies = [
        Reply(
            text="", reasoning="Checking.", signature="gem-sig-1",
            tool_calls=[ToolCall("get_time", {}, "fc1")], stop="tool_use",
        ),
        Reply(text="It is 10:42."),
    ]  # fmt: skip
    async with run_gateway(_config(upstreams, "gemini", "gemini-3-pro-preview")) as url:
        assert await _tool_loop(url, stream, echo_reasoning=False) == "It is 10:42."
    model_turn = state.received[-1].body["contents"][1]
    call_parts = [part for part in model_turn["parts"] if "functionCall" in part]
    assert call_parts[0]["thoughtSignature"] == "gem-sig-1"  # the real one, not a dummy


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_thinking_is_rebuilt_when_the_text_came_back(
    upstreams: Upstreams, stream: bool
) -> None:
    # The signature rides in the call id; the client sent the text as reasoning_content.
    state = upstreams.states["messages"]
    state.replies = [
        Reply(text="", reasoning="Need the clock.", tool_calls=[ToolCall("get_time", {})],
              stop="tool_use"),
        Reply(text="It is 10:42."),
    ]  # fmt: skip
    async with run_gateway(_config(upstreams, "messages", "claude-sonnet-4-5")) as url:
        assert await _tool_loop(url, stream, echo_reasoning=True) == "It is 10:42."
    sent = state.received[-1].body
    assert sent["thinking"]["type"] == "enabled"
    opening = sent["messages"][1]["content"][0]
    assert opening == {
        "type": "thinking",
        "thinking": "Need the clock.",
        "signature": mock_signature("Need the clock."),
    }


async def test_anthropic_thinking_is_dropped_when_it_cannot_be_rebuilt(
    upstreams: Upstreams,
) -> None:
    # Without the text no valid thinking block can be sent; the API refuses a final assistant
    # turn with tool_use and no thinking while thinking is on, so this request goes without.
    state = upstreams.states["messages"]
    state.replies = [
        Reply(text="", reasoning="Need the clock.", tool_calls=[ToolCall("get_time", {})],
              stop="tool_use"),
        Reply(text="It is 10:42."),
    ]  # fmt: skip
    async with run_gateway(_config(upstreams, "messages", "claude-sonnet-4-5")) as url:
        assert await _tool_loop(url, False, echo_reasoning=False) == "It is 10:42."
    assert "thinking" not in state.received[-1].body


async def test_a_gemini_client_that_keeps_only_the_call_rebuilds_claudes_thinking(
    upstreams: Upstreams,
) -> None:
    # Issue 11 bug 10: the signature rides on the first functionCall part, where Gemini 3 puts
    # it and Gemini-aware clients (litellm's gemini/) keep it, with the thinking text inside.
    state = upstreams.states["messages"]
    state.replies = [
        Reply(text="", reasoning="Need the clock.", tool_calls=[ToolCall("get_time", {})],
              stop="tool_use"),
        Reply(text="It is 10:42."),
    ]  # fmt: skip
    body: Any = {
        "contents": [{"role": "user", "parts": [{"text": "What time is it?"}]}],
        "tools": [{"functionDeclarations": [{"name": "get_time"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}},
    }
    path = "/v1beta/models/thinker:generateContent"
    async with (
        run_gateway(_config(upstreams, "messages", "claude-sonnet-4-5")) as url,
        aiohttp.ClientSession(base_url=url) as http,
    ):
        async with http.post(path, json=body) as answer:
            first = await answer.json()
        parts = first["candidates"][0]["content"]["parts"]
        calls = [part for part in parts if "functionCall" in part]
        assert calls[0]["thoughtSignature"]  # on the call, not on a thought part
        body["contents"] += [
            {"role": "model", "parts": calls},  # thought text dropped, as litellm does
            {"role": "user", "parts": [{"functionResponse": {
                "name": "get_time", "id": calls[0]["functionCall"]["id"],
                "response": {"output": "10:42"}}}]},
        ]  # fmt: skip
        async with http.post(path, json=body) as answer:
            second = await answer.json()
    assert second["candidates"][0]["content"]["parts"][0]["text"] == "It is 10:42."
    opening = state.received[-1].body["messages"][1]["content"][0]
    assert opening["type"] == "thinking" and opening["thinking"] == "Need the clock."
