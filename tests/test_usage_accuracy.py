"""Usage and cost in the ledger, to the token: every client API × provider type, streamed and
not, driven by the official SDKs; the row holds what the provider reported, in the IR's
disjoint buckets, priced by the provider's `pricing:` (or the shipped table)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import openai
import pytest

from plexus import ir
from plexus.app import Gateway
from plexus.pricing import PriceBook
from tests.clients import DRIVERS, Ask
from tests.conftest import API_TYPES, Upstreams, run_gateway
from tests.mocks.base import Reply

# USD per million tokens: the cost below is exact in binary-friendly figures.
PRICES = {"*": {"input": 2.0, "output": 8.0, "cache_read": 0.5}}
PAIRS = [(client, provider) for client in API_TYPES for provider in API_TYPES]
REPLY = Reply(input_tokens=1000, cached_tokens=200, output_tokens=300, reasoning_tokens=40)


def _rows(data_dir: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(data_dir / "usage.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM requests ORDER BY id")]


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
@pytest.mark.parametrize(("client_api", "provider_api"), PAIRS, ids=[f"{c}-{p}" for c, p in PAIRS])
async def test_row_holds_the_reported_usage_and_its_cost(
    upstreams: Upstreams, data_dir: Path, client_api: str, provider_api: str, stream: bool
) -> None:
    priced = {
        f"mock-{api}": {
            "type": api,
            "api_base_url": upstreams.base_url(api),
            "api_key": "upstream-key",
            "pricing": PRICES,
        }
        for api in API_TYPES
    }
    config = upstreams.config({"providers": priced})
    upstreams.states[provider_api].reply = REPLY
    gateway = Gateway(config)
    async with run_gateway(config, gateway) as url:
        await DRIVERS[client_api](url, f"{provider_api}-model").ask(Ask(), stream)
    (row,) = _rows(data_dir)
    assert (row["client_api"], row["provider"], row["stream"]) == (
        client_api,
        f"mock-{provider_api}",
        int(stream),
    )
    assert row["passthrough"] == int(client_api == provider_api)
    assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (800, 200, 300)
    # Anthropic reports no reasoning count; the others do.
    assert row["reasoning_tokens"] == (None if provider_api == "messages" else 40)
    assert row["cost_source"] == "config"
    assert row["cost_usd"] == pytest.approx((800 * 2.0 + 200 * 0.5 + 300 * 8.0) / 1e6, rel=1e-12)
    assert row["ttft_ms"] is not None and row["ttft_ms"] <= row["duration_ms"]


async def test_a_model_the_table_knows_is_priced_from_it(
    upstreams: Upstreams, data_dir: Path
) -> None:
    # The preset tells the vendor (its base URL here is the mock's).
    openai = {
        "preset": "openai",
        "api_base_url": upstreams.base_url("chat"),
        "api_key": "upstream-key",
    }
    config = upstreams.config(
        {
            "providers": {"mock-chat": openai},
            "models": {"mini": {"targets": [{"provider": "mock-chat", "model": "gpt-4o-mini"}]}},
        }
    )
    upstreams.states["chat"].reply = REPLY
    async with run_gateway(config) as url:
        await DRIVERS["chat"](url, "mini").ask(Ask(), False)
        await DRIVERS["chat"](url, "chat-model").ask(Ask(), False)
    priced, unknown = _rows(data_dir)
    expected = PriceBook.from_config(config).cost("mock-chat", "gpt-4o-mini", _usage())
    assert priced["cost_source"] == "table" and expected.usd is not None
    assert priced["cost_usd"] == pytest.approx(expected.usd) and priced["cost_usd"] > 0
    # `up-chat` is in no price list: unpriced, not free.
    assert (unknown["cost_usd"], unknown["cost_source"]) == (None, None)


def _usage() -> ir.Usage:
    return ir.Usage(input_tokens=800, output_tokens=300, cache_read_tokens=200, reasoning_tokens=40)


async def test_a_chat_stream_without_include_usage_is_still_counted(
    upstreams: Upstreams, data_dir: Path
) -> None:
    upstreams.states["chat"].reply = REPLY
    async with run_gateway(upstreams.config()) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        stream = await client.chat.completions.create(
            model="chat-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
    # The client did not ask for usage, and gets no usage chunk...
    assert all(chunk.usage is None for chunk in chunks) and chunks[-1].choices
    # ... but the ledger has it: the gateway asked the upstream for it.
    (row,) = _rows(data_dir)
    assert (row["input_tokens"], row["output_tokens"]) == (800, 300)
    assert upstreams.states["chat"].received[-1].body["stream_options"] == {"include_usage": True}
