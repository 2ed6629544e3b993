"""count_tokens: forwarded to Anthropic-type providers, estimated locally for the others."""

from __future__ import annotations

import anthropic

from plexus import ir
from plexus.count_tokens import estimate
from tests.conftest import Upstreams

HI = [{"role": "user", "content": "Hello there, how are you today?"}]


async def test_forwarded_to_anthropic_providers(gateway: str, upstreams: Upstreams) -> None:
    client = anthropic.AsyncAnthropic(base_url=gateway, api_key="k", max_retries=0)
    counted = await client.messages.count_tokens(model="messages-model", messages=HI)  # type: ignore[arg-type]
    assert counted.input_tokens > 0
    received = upstreams.states["messages"].received[-1]
    assert received.path == "/v1/messages/count_tokens"
    assert received.body["model"] == "up-messages"


async def test_estimated_for_other_providers(gateway: str, upstreams: Upstreams) -> None:
    client = anthropic.AsyncAnthropic(base_url=gateway, api_key="k", max_retries=0)
    counted = await client.messages.count_tokens(model="chat-model", messages=HI)  # type: ignore[arg-type]
    assert 5 <= counted.input_tokens <= 30
    assert upstreams.states["chat"].received == []


def test_estimate_grows_with_content() -> None:
    short = ir.Request(model="m", messages=[ir.Message("user", [ir.TextBlock("hi")])])
    long = ir.Request(model="m", messages=[ir.Message("user", [ir.TextBlock("word " * 400)])])
    assert estimate(short) < estimate(long)
    assert 400 <= estimate(long) <= 700
