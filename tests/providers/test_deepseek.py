"""DeepSeek adapter against a mock with DeepSeek's documented departures (protocols.md 5.2)."""

from __future__ import annotations

from typing import Any

from plexus.providers.deepseek import DeepSeekAdapter
from tests.providers.vendor import (
    WEATHER_TOOL,
    Vendor,
    anthropic_client,
    chunk,
    completion,
    gateway_for,
    openai_client,
)

TOOLS: Any = [WEATHER_TOOL]
REASONING = "The user wants Paris weather; call the tool."
USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "prompt_cache_hit_tokens": 100,
    "prompt_cache_miss_tokens": 20,
    "completion_tokens_details": {"reasoning_tokens": 12},
}


def deepseek_check(body: dict[str, Any]) -> str | None:
    """The 400s DeepSeek answers in thinking mode."""
    if "max_completion_tokens" in body:
        return "Unrecognized request argument supplied: max_completion_tokens"
    thinking = (body.get("thinking") or {}).get("type") != "disabled"
    if thinking and ("logprobs" in body or "top_logprobs" in body):
        return "logprobs is not supported in thinking mode"
    if body.get("reasoning_effort") not in (None, "low", "high", "max"):
        return "invalid reasoning_effort"
    for index, message in enumerate(body["messages"]):
        calls = message.get("role") == "assistant" and message.get("tool_calls")
        if thinking and calls and not message.get("reasoning_content"):
            return f"Missing `reasoning_content` field in the assistant message at index {index}"
    return None


def tool_call_answer() -> dict[str, Any]:
    message = {
        "role": "assistant",
        "content": "",
        "reasoning_content": REASONING,
        "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        ],
    }  # fmt: skip
    return completion(message, USAGE, "tool_calls")


async def test_messages_tool_loop_echoes_reasoning_content() -> None:
    vendor = Vendor(completion=tool_call_answer(), check=deepseek_check)
    async with gateway_for(vendor, "deepseek", "deepseek-reasoner") as url:
        client = anthropic_client(url)
        question: Any = {"role": "user", "content": "Weather in Paris?"}
        thinking: Any = {"type": "enabled", "budget_tokens": 2048}
        first = await client.messages.create(
            model="m", max_tokens=1024, tools=TOOLS, messages=[question], thinking=thinking
        )
        assert [block.type for block in first.content] == ["thinking", "tool_use"]
        assert first.content[0].type == "thinking" and first.content[0].thinking == REASONING
        assert first.usage.cache_read_input_tokens == 100
        assert first.usage.input_tokens == 20
        assert "max_tokens" in vendor.last and "max_completion_tokens" not in vendor.last
        assert vendor.last["reasoning_effort"] == "low"  # budget 2048 → low, sent as DeepSeek's low

        vendor.completion = completion({"role": "assistant", "content": "18°C."}, USAGE)
        call_id = first.content[1].id  # type: ignore[union-attr]
        result = {"type": "tool_result", "tool_use_id": call_id, "content": "18°C"}
        history: Any = [
            question,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ]
        second = await client.messages.create(
            model="m", max_tokens=1024, tools=TOOLS, messages=history
        )
    assert second.content[0].type == "text"
    replayed = vendor.last["messages"][1]
    assert replayed["role"] == "assistant" and replayed["reasoning_content"] == REASONING


async def test_chat_passthrough_gets_deepseek_fields() -> None:
    vendor = Vendor(completion=completion({"role": "assistant", "content": "ok"}, USAGE))
    vendor.check = deepseek_check
    history: list[Any] = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "18°C"},
    ]  # fmt: skip
    async with gateway_for(vendor, "deepseek", "deepseek-v4-flash") as url:
        answer = await openai_client(url).chat.completions.create(
            model="m", messages=history, max_completion_tokens=64, logprobs=True,
            reasoning_effort="medium",
        )  # fmt: skip
    assert answer.choices[0].message.content == "ok"
    body = vendor.last
    assert body["max_tokens"] == 64 and "logprobs" not in body
    assert body["reasoning_effort"] == "high"
    assert body["messages"][1]["reasoning_content"].strip() == ""  # placeholder, not missing


async def test_stream_reasoning_reaches_messages_client() -> None:
    frames = [
        chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
        chunk({"content": None, "reasoning_content": "Think"}),
        chunk({"content": None, "reasoning_content": "ing."}),
        ": keep-alive\n\n",
        chunk({"content": "Hello", "reasoning_content": None}),
        chunk({"content": ""}, "stop"),
        chunk(None, usage=USAGE),
    ]
    vendor = Vendor(frames=frames, check=deepseek_check)
    async with (
        gateway_for(vendor, "deepseek", "deepseek-reasoner") as url,
        anthropic_client(url).messages.stream(
            model="m", max_tokens=256, messages=[{"role": "user", "content": "Hi"}]
        ) as stream,
    ):
        final = await stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Thinking."  # type: ignore[union-attr]
    assert final.usage.cache_read_input_tokens == 100
    assert final.usage.output_tokens == 30


def test_effort_none_disables_thinking_and_keeps_logprobs() -> None:
    body = DeepSeekAdapter().patch_body(
        {"model": "deepseek-v4-pro", "messages": [], "reasoning_effort": "none", "logprobs": True}
    )
    assert body["thinking"] == {"type": "disabled"} and "reasoning_effort" not in body
    assert body["logprobs"] is True


def test_legacy_chat_model_does_not_think() -> None:
    message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}
    body = DeepSeekAdapter().patch_body(
        {"model": "deepseek-chat", "messages": [message], "top_logprobs": 2}
    )
    assert "reasoning_content" not in body["messages"][0] and body["top_logprobs"] == 2


def test_r1_variant_strips_reasoning_from_history() -> None:
    message = {"role": "assistant", "content": "x", "reasoning_content": "old"}
    body = DeepSeekAdapter(strip_reasoning=True).patch_body(
        {"model": "deepseek-reasoner", "messages": [{"role": "user", "content": "q"}, message]}
    )
    assert "reasoning_content" not in body["messages"][1]
