"""count_tokens: the provider's own counter (Anthropic, Gemini, Responses), else estimated."""

from __future__ import annotations

import json

import anthropic

from plexus import ir
from plexus.count_tokens import estimate
from plexus.tokenizer import count_text
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
    # Counted with the tokenizer: the text's 8 tokens and the message's framing.
    assert counted.input_tokens == count_text(HI[0]["content"]) + 4 == 12
    assert upstreams.states["chat"].received == []


def test_the_tokenizer_is_cl100k() -> None:
    # Issue 11 bug 6: a real tokenizer, not 4 characters a token (which says 3 here, and 500).
    assert count_text("hello world") == 2
    assert count_text("word " * 400) == 401


def test_estimate_grows_with_content() -> None:
    short = ir.Request(model="m", messages=[ir.Message("user", [ir.TextBlock("hi")])])
    long = ir.Request(model="m", messages=[ir.Message("user", [ir.TextBlock("word " * 400)])])
    assert estimate(short) == 4 + 1
    assert estimate(long) == 4 + 401


async def test_gemini_providers_count_with_count_tokens(gateway: str, upstreams: Upstreams) -> None:
    # Issue 11 bug 6: off Anthropic the count was an estimate; Gemini has its own counter.
    client = anthropic.AsyncAnthropic(base_url=gateway, api_key="k", max_retries=0)
    counted = await client.messages.count_tokens(
        model="gemini-model",
        system="Be brief.",
        messages=HI,  # type: ignore[arg-type]
        tools=[{"name": "get_time", "input_schema": {"type": "object"}}],
    )
    received = upstreams.states["gemini"].received[-1]
    assert received.path == "/v1beta/models/up-gemini:countTokens"
    inner = received.body["generateContentRequest"]
    assert inner["model"] == "models/up-gemini" and inner["tools"]
    assert (
        counted.input_tokens
        == 2 + len(json.dumps({k: v for k, v in inner.items() if k != "model"})) // 4
    )


async def test_responses_providers_count_with_input_tokens(
    gateway: str, upstreams: Upstreams
) -> None:
    client = anthropic.AsyncAnthropic(base_url=gateway, api_key="k", max_retries=0)
    counted = await client.messages.count_tokens(
        model="responses-model",
        system="Be brief.",
        messages=HI,  # type: ignore[arg-type]
    )
    received = upstreams.states["responses"].received[-1]
    assert received.path == "/v1/responses/input_tokens"
    assert received.body["model"] == "up-responses" and "max_output_tokens" not in received.body
    assert counted.input_tokens > 1


def test_estimate_counts_server_tool_blocks() -> None:
    # Issue 11: a turn with a web search counts its results, not nothing.
    url = "https://example.com/" + "-".join(f"page{n}" for n in range(100))
    search = ir.ServerToolResultBlock(
        "srvtoolu_1", "web_search", sources=[ir.ServerToolSource(url)]
    )
    plain = ir.Request(model="m", messages=[ir.Message("assistant", [ir.TextBlock("ok")])])
    searched = ir.Request(
        model="m", messages=[ir.Message("assistant", [search, ir.TextBlock("ok")])]
    )
    assert estimate(searched) >= estimate(plain) + count_text(url)
