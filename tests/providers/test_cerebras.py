"""Cerebras adapter against a mock that rejects what Cerebras rejects (protocols.md 5.4)."""

from __future__ import annotations

from typing import Any

from plexus.providers.cerebras import CerebrasAdapter
from tests.providers.vendor import Vendor, anthropic_client, completion, gateway_for, openai_client

USAGE = {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}
REJECTED = ("frequency_penalty", "logit_bias", "presence_penalty", "parallel_tool_calls",
            "service_tier")  # fmt: skip


def cerebras_check(body: dict[str, Any]) -> str | None:
    """The fields inference-docs.cerebras.ai says answer 400."""
    for key in REJECTED:
        if key in body:
            return f"Unsupported parameter: {key}"
    for message in body["messages"]:
        if {"reasoning_content", "reasoning_details"} & set(message):
            return "Unrecognized field in message"
    return None


async def test_rejected_fields_dropped_and_reasoning_read() -> None:
    message = {"role": "assistant", "content": "Four.", "reasoning": "2 plus 2."}
    vendor = Vendor(completion=completion(message, USAGE), check=cerebras_check)
    async with gateway_for(vendor, "cerebras", "gpt-oss-120b") as url:
        answer = await openai_client(url).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "2+2?"}],
            frequency_penalty=0.5, presence_penalty=0.5, parallel_tool_calls=True,
            reasoning_effort="minimal",
        )  # fmt: skip
        assert answer.choices[0].message.content == "Four."
        assert vendor.last["reasoning_effort"] == "low"
        assert not set(REJECTED) & set(vendor.last)

        reply = await anthropic_client(url).messages.create(
            model="m", max_tokens=256, messages=[{"role": "user", "content": "2+2?"}]
        )
    assert [block.type for block in reply.content] == ["thinking", "text"]
    assert reply.content[0].thinking == "2 plus 2."  # type: ignore[union-attr]


def test_replayed_reasoning_is_stripped_and_qwen_asks_for_parsed() -> None:
    history = [{"role": "user", "content": "q"},
               {"role": "assistant", "content": "a", "reasoning_content": "r"}]  # fmt: skip
    body = CerebrasAdapter().patch_body({"model": "qwen-3-32b", "messages": history})
    assert body["messages"][1] == {"role": "assistant", "content": "a"}
    assert body["reasoning_format"] == "parsed"
