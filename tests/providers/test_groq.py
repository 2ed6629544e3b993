"""Groq adapter against a mock that rejects what Groq rejects (protocols.md 5.3)."""

from __future__ import annotations

from typing import Any

from plexus.providers.groq import GroqAdapter
from tests.providers.vendor import Vendor, anthropic_client, chunk, gateway_for, openai_client

USAGE = {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}


def groq_check(body: dict[str, Any]) -> str | None:
    """The 400s console.groq.com/docs/openai documents, and the history field it refuses."""
    for key in ("logprobs", "logit_bias", "top_logprobs"):
        if key in body:
            return f"'{key}' : property '{key}' is unsupported"
    if body.get("n", 1) != 1:
        return "'n' : number must be at most 1"
    for index, message in enumerate(body["messages"]):
        if "name" in message:
            return f"'messages.{index}' : property 'name' is unsupported"
        if "reasoning_content" in message:
            return (
                f"'messages.{index}' : property 'reasoning_content' is unsupported, "
                "did you mean 'reasoning'?"
            )
    if "reasoning_effort" in body and not str(body["model"]).startswith(("openai/", "qwen/")):
        return "reasoning_effort is not supported with this model"
    return None


async def test_rejected_fields_are_dropped_on_passthrough() -> None:
    frames = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hi there"}),
        chunk({}, "stop"),
        chunk(None, usage=USAGE),
    ]
    vendor = Vendor(frames=frames, check=groq_check)
    async with gateway_for(vendor, "groq", "llama-3.3-70b-versatile") as url:
        stream = await openai_client(url).chat.completions.create(
            model="m", stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "Hi", "name": "alice"}],
            logprobs=True, top_logprobs=2, logit_bias={"50256": -100}, n=1,
            reasoning_effort="high",
        )  # fmt: skip
        text = "".join(
            [part.choices[0].delta.content or "" async for part in stream if part.choices]
        )
    assert text == "Hi there"
    assert not {"logprobs", "top_logprobs", "logit_bias", "n", "reasoning_effort"} & set(
        vendor.last
    )


async def test_parsed_reasoning_becomes_thinking_and_is_replayed_as_reasoning() -> None:
    frames = [
        chunk({"role": "assistant", "content": None, "reasoning": "Simple"}),
        chunk({"content": None, "reasoning": " greeting."}),
        chunk({"content": "Hello!"}),
        chunk({}, "stop", x_groq={"id": "req_1", "usage": USAGE}),
        chunk(None, usage=USAGE),
    ]
    vendor = Vendor(frames=frames, check=groq_check)
    async with gateway_for(vendor, "groq", "qwen/qwen3-32b") as url:
        client = anthropic_client(url)
        question = {"role": "user", "content": "Hi"}
        async with client.messages.stream(
            model="m", max_tokens=512, messages=[question],  # type: ignore[list-item]
            thinking={"type": "enabled", "budget_tokens": 1024},
        ) as stream:  # fmt: skip
            final = await stream.get_final_message()
        assert [block.type for block in final.content] == ["thinking", "text"]
        assert final.content[0].thinking == "Simple greeting."  # type: ignore[union-attr]
        assert final.usage.output_tokens == 5
        assert vendor.last["reasoning_format"] == "parsed"
        assert vendor.last["reasoning_effort"] == "default"

        history = [question, {"role": "assistant", "content": final.content},
                   {"role": "user", "content": "Again"}]  # fmt: skip
        async with client.messages.stream(
            model="m",
            max_tokens=512,
            messages=history,  # type: ignore[arg-type]
        ) as stream:
            await stream.get_final_message()
    assert vendor.last["messages"][1]["reasoning"] == "Simple greeting."


def test_gpt_oss_efforts_are_clamped_to_what_it_takes() -> None:
    adapter = GroqAdapter()
    for asked, sent in (("minimal", "low"), ("medium", "medium"), ("max", "high")):
        body = adapter.patch_body(
            {"model": "openai/gpt-oss-120b", "messages": [], "reasoning_effort": asked}
        )
        assert body["reasoning_effort"] == sent and "reasoning_format" not in body


def test_n_above_one_is_reduced() -> None:
    body = GroqAdapter().patch_body({"model": "llama-3.1-8b-instant", "messages": [], "n": 3})
    assert body["n"] == 1
