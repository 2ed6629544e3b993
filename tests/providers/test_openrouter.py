"""OpenRouter adapter against a mock with OpenRouter's stream shape (protocols.md 5.5):
`: OPENROUTER PROCESSING` comments, `reasoning` + `reasoning_details`, usage in the last chunk."""

from __future__ import annotations

from typing import Any

from plexus.providers.openrouter import OpenRouterAdapter
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
SIGNATURE = "EqQBCkYIBxgCKkBclaude-signature"
USAGE = {
    "prompt_tokens": 50,
    "completion_tokens": 20,
    "total_tokens": 70,
    "prompt_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 8},
    "cost": 0.0001,
    "is_byok": False,
}


def openrouter_check(body: dict[str, Any]) -> str | None:
    """OpenRouter's own request shape: `reasoning` object, effort and max_tokens exclusive."""
    reasoning = body.get("reasoning") or {}
    if "effort" in reasoning and "max_tokens" in reasoning:
        return "reasoning.effort and reasoning.max_tokens are mutually exclusive"
    return None


def claude_stream() -> list[str]:
    detail = {"type": "reasoning.text", "text": "Need the tool.", "signature": SIGNATURE,
              "format": "anthropic-claude-v1", "index": 0}  # fmt: skip
    call = {"index": 0, "id": "toolu_01", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}  # fmt: skip
    return [
        ": OPENROUTER PROCESSING\n\n",
        chunk(
            {
                "role": "assistant",
                "content": "",
                "reasoning": "Need the tool.",
                "reasoning_details": [detail],
            },
            provider="Anthropic",
        ),
        ": OPENROUTER PROCESSING\n\n",
        chunk({"content": "", "tool_calls": [call]}),
        chunk({}, "tool_calls", native_finish_reason="tool_use"),
        chunk(None, usage=USAGE),
    ]


async def test_claude_signature_survives_a_tool_loop() -> None:
    vendor = Vendor(frames=claude_stream(), check=openrouter_check)
    async with gateway_for(vendor, "openrouter", "anthropic/claude-sonnet-4.6") as url:
        client = anthropic_client(url)
        question: Any = {"role": "user", "content": "Weather in Paris?"}
        thinking: Any = {"type": "enabled", "budget_tokens": 2048}
        async with client.messages.stream(
            model="m", max_tokens=4096, tools=TOOLS, messages=[question], thinking=thinking
        ) as stream:
            first = await stream.get_final_message()
        assert [block.type for block in first.content] == ["thinking", "tool_use"]
        assert first.content[0].signature == SIGNATURE  # type: ignore[union-attr]
        assert first.usage.cache_read_input_tokens == 30
        assert vendor.last["reasoning"] == {"max_tokens": 2048}
        assert vendor.last["usage"] == {"include": True}
        assert "reasoning_effort" not in vendor.last

        vendor.completion = completion({"role": "assistant", "content": "18°C."}, USAGE)
        result = {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18°C"}
        history: Any = [
            question,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ]
        await client.messages.create(
            model="m", max_tokens=4096, tools=TOOLS, thinking=thinking, messages=history
        )
    replayed = vendor.last["messages"][1]
    assert replayed["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Need the tool.", "signature": SIGNATURE,
         "format": "anthropic-claude-v1", "index": 0}
    ]  # fmt: skip


async def test_chat_passthrough_moves_effort_into_reasoning() -> None:
    message = {"role": "assistant", "content": "Hi", "reasoning": "Greet."}
    vendor = Vendor(completion=completion(message, USAGE), check=openrouter_check)
    async with gateway_for(vendor, "openrouter", "openai/gpt-5") as url:
        answer = await openai_client(url).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Hi"}], reasoning_effort="low"
        )
    assert answer.choices[0].message.content == "Hi"
    assert vendor.last["reasoning"] == {"effort": "low"} and "reasoning_effort" not in vendor.last
    assert vendor.last["usage"] == {"include": True}
    assert {k.lower(): v for k, v in vendor.headers[-1].items()}["authorization"] == (
        "Bearer vendor-key"
    )


async def test_stream_through_comments_to_chat_client_translated_from_responses() -> None:
    frames = [
        ": OPENROUTER PROCESSING\n\n",
        chunk({"role": "assistant", "content": "Hel"}),
        ": OPENROUTER PROCESSING\n\n",
        chunk({"content": "lo"}),
        chunk({}, "stop"),
        chunk(None, usage=USAGE),
    ]
    vendor = Vendor(frames=frames, check=openrouter_check)
    async with (
        gateway_for(vendor, "openrouter", "openai/gpt-5") as url,
        openai_client(url).responses.stream(model="m", input="Hi") as stream,
    ):
        final = await stream.get_final_response()
    assert final.output_text == "Hello"
    assert final.usage is not None and final.usage.input_tokens == 50


def test_client_reasoning_object_is_kept() -> None:
    body = OpenRouterAdapter().patch_body(
        {"model": "x", "messages": [], "reasoning": {"exclude": True}, "reasoning_effort": "high"}
    )
    assert body["reasoning"] == {"exclude": True} and "reasoning_effort" not in body
