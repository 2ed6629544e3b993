"""Vercel AI Gateway adapter (protocols.md 5.6): `reasoning` object in, `reasoning` out."""

from __future__ import annotations

from plexus.providers.vercel import VercelAdapter
from tests.providers.vendor import Vendor, anthropic_client, chunk, gateway_for

USAGE = {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18,
         "completion_tokens_details": {"reasoning_tokens": 3}}  # fmt: skip


async def test_reasoning_field_streams_as_thinking() -> None:
    frames = [
        chunk({"role": "assistant", "content": "", "reasoning": "Short."}),
        chunk({"content": "Bonjour"}),
        chunk({}, "stop"),
        chunk(None, usage=USAGE),
    ]
    vendor = Vendor(frames=frames)
    async with (
        gateway_for(vendor, "vercel", "openai/gpt-5.2") as url,
        anthropic_client(url).messages.stream(
            model="m",
            max_tokens=512,
            messages=[{"role": "user", "content": "Hi"}],
            thinking={"type": "enabled", "budget_tokens": 20000},
        ) as stream,
    ):
        final = await stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert vendor.last["reasoning"] == {"max_tokens": 20000}
    assert "usage" not in vendor.last and "reasoning_effort" not in vendor.last


def test_effort_moves_into_reasoning_object() -> None:
    body = VercelAdapter().patch_body({"model": "x", "messages": [], "reasoning_effort": "high"})
    assert body == {"model": "x", "messages": [], "reasoning": {"effort": "high"}}
