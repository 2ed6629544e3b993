"""Two gateways sharing one Valkey hold a key's limit together (an rpm of N admits exactly N
across both), and Valkey going away falls back to local limits without failing a request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import openai
import pytest

from plexus.app import Gateway
from plexus.limits.pool import LocalPool
from tests.conftest import Upstreams, run_gateway
from tests.shared.valkey import Valkey

pytestmark = pytest.mark.slow
HI: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def valkey(tmp_path: Path) -> AsyncIterator[Valkey]:
    server = Valkey(tmp_path / "valkey")
    await server.start()
    yield server
    await server.kill()


async def _spread(urls: list[str], count: int, **options: Any) -> list[bool]:
    """`count` requests at once, alternating between the gateways; True for each answered."""
    clients = [
        openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-alice", max_retries=0) for url in urls
    ]

    async def one(index: int) -> bool:
        try:
            await clients[index % len(clients)].chat.completions.create(
                model="chat-model", messages=HI, **options
            )
        except openai.RateLimitError:
            return False
        return True

    try:
        return list(await asyncio.gather(*(one(i) for i in range(count))))
    finally:  # not left to the garbage collector, which may run after the event loop is gone
        for client in clients:
            await client.close()


async def test_an_rpm_holds_across_two_gateways(upstreams: Upstreams, valkey: Valkey) -> None:
    config = upstreams.config(
        {
            "keys": {"alice": {"secret": "sk-alice", "rpm": 10}},
            "server": {"redis_url": valkey.url},
        }
    )
    gateways = [Gateway(config), Gateway(config)]
    async with AsyncExitStack() as stack:
        urls = []
        for gateway in gateways:
            assert not isinstance(gateway.limiter.pool, LocalPool)
            gateway.limiter.clock = lambda: 600.0
            urls.append(await stack.enter_async_context(run_gateway(config, gateway)))
        answered = await _spread(urls, 40)
    if any(gateway.limiter.fallbacks for gateway in gateways):
        assert answered.count(True) <= 20  # Valkey too slow under load: 10 per gateway
    else:
        assert answered.count(True) == 10  # the whole limit, not 10 per gateway


async def test_a_lost_valkey_falls_back_to_local_limits(
    upstreams: Upstreams, valkey: Valkey
) -> None:
    config = upstreams.config(
        {
            "keys": {"alice": {"secret": "sk-alice", "rpm": 5}},
            "server": {"redis_url": valkey.url},
        }
    )
    gateway = Gateway(config)
    gateway.limiter.clock = lambda: 600.0
    async with run_gateway(config, gateway) as url:
        assert (await _spread([url], 2)).count(True) == 2
        await valkey.kill()
        answered = await _spread([url], 10)
    assert answered.count(True) == 5  # enforced locally: no request failed, none past the limit


async def test_a_budget_holds_across_two_gateways(upstreams: Upstreams, valkey: Valkey) -> None:
    provider = {
        "type": "chat",
        "api_base_url": upstreams.base_url("chat"),
        "api_key": "upstream-key",
        "pricing": {"*": {"input": 1000, "output": 1000}},  # 18 tokens: 0.018 USD an answer
    }
    config = upstreams.config(
        {
            "keys": {"alice": {"secret": "sk-alice", "budget": {"usd": 0.3, "period": "day"}}},
            "providers": {"mock-chat": provider},
            "server": {"redis_url": valkey.url},
        }
    )
    gateways = [Gateway(config), Gateway(config)]
    async with AsyncExitStack() as stack:
        urls = [
            await stack.enter_async_context(run_gateway(config, gateway)) for gateway in gateways
        ]
        answered = []
        for _ in range(3):  # waves: later ones meet spend settled below its estimates
            answered += await _spread(urls, 50, max_tokens=10)
            await asyncio.sleep(0.5)  # settled amounts reach Valkey within a flush (150 ms)
    spent = 0.018 * answered.count(True)
    assert spent > 0.3 - 0.018
    if any(gateway.limiter.fallbacks for gateway in gateways):
        # Valkey missed its 250 ms timeout (a loaded machine): each gateway then enforced the
        # whole budget on its own, which is what the fallback promises.
        assert spent <= 2 * (0.3 + 0.05)
    else:
        assert spent <= 0.3 + 0.05  # at most one request's estimate past it
