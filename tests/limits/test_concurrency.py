"""Limits under concurrency, through the gateway: 50 requests at once never spend past a
budget by more than one request's estimate, an rpm of N admits exactly N in a window, spend
survives a restart, several workers each enforce their share, a provider at its limit hands
the request to the alias's next target."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web

from plexus.app import Gateway
from tests.conftest import Upstreams, run_gateway, serve_app

HI: Any = [{"role": "user", "content": "hi"}]
PRICING = {"*": {"input": 1000, "output": 1000}}  # USD per million: 0.001 a token


def _config(upstreams: Upstreams, key: dict[str, Any], **extra: Any) -> Any:
    provider = {
        "type": "chat",
        "api_base_url": upstreams.base_url("chat"),
        "api_key": "upstream-key",
        "pricing": PRICING,
    }
    raw = {"keys": {"alice": {"secret": "sk-alice", **key}}, "providers": {"mock-chat": provider}}
    return upstreams.config({**raw, **extra})


async def _fire(url: str, count: int, **options: Any) -> list[BaseException | None]:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-alice", max_retries=0)

    async def one() -> BaseException | None:
        try:
            await client.chat.completions.create(model="chat-model", messages=HI, **options)
        except openai.APIError as error:
            return error
        return None

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def test_fifty_at_once_never_pass_the_budget(upstreams: Upstreams, data_dir: Path) -> None:
    # Each answer costs 18 tokens = 0.018 USD; the estimate is the body's ~20 tokens + 10 out.
    config = _config(upstreams, {"budget": {"usd": 0.5, "period": "day"}})
    async with run_gateway(config) as url:
        results = []
        for _ in range(4):  # waves, so later ones meet reservations settled below estimate
            results += await _fire(url, 50, max_tokens=10)
    refused = [r for r in results if r is not None]
    assert refused and all(isinstance(r, openai.RateLimitError) for r in refused)
    assert "Budget of 0.5 USD per day used up" in str(refused[0])
    with sqlite3.connect(data_dir / "usage.db") as db:
        spent, served = db.execute(
            "SELECT SUM(cost_usd), COUNT(*) FROM requests WHERE status = 200"
        ).fetchone()
    estimate = 0.03 + 0.01  # generous: the body's bytes / 4 vary with the SDK's headers
    assert served == len(results) - len(refused)
    assert 0.5 - 0.018 < spent <= 0.5 + estimate


async def test_an_rpm_of_n_admits_exactly_n_in_a_window(upstreams: Upstreams) -> None:
    gateway = Gateway(_config(upstreams, {"rpm": 20}))
    gateway.limiter.clock = lambda: 600.0  # inside one window however long the test runs
    async with run_gateway(gateway.config, gateway) as url:
        results = await _fire(url, 50)
        gateway.limiter.clock = lambda: 660.0  # the next window
        later = await _fire(url, 50)
    for wave in (results, later):
        assert wave.count(None) == 20
        assert all(isinstance(r, openai.RateLimitError) for r in wave if r is not None)


async def test_spend_is_restored_from_the_usage_store(upstreams: Upstreams) -> None:
    config = _config(upstreams, {"budget": {"usd": 1, "period": "month"}})
    async with run_gateway(config) as url:
        assert await _fire(url, 5, max_tokens=10) == [None] * 5
    gateway = Gateway(config)  # a restart: the first one's rows are in the store
    async with run_gateway(config, gateway) as url:
        rule = next(r for r in gateway.gate._keys["alice"] if r.unit == "usd")
        assert gateway.limiter.used(rule) == pytest.approx(5 * 0.018)


async def test_each_worker_enforces_its_share(upstreams: Upstreams) -> None:
    gateway = Gateway(_config(upstreams, {"rpm": 5}), workers=2)
    gateway.limiter.clock = lambda: 600.0
    async with run_gateway(gateway.config, gateway) as url:
        results = await _fire(url, 10)
    assert results.count(None) == 3  # 5 / 2, rounded up


async def test_a_provider_at_its_limit_passes_to_the_next_target(upstreams: Upstreams) -> None:
    providers = {
        "mock-chat": {
            "type": "chat", "api_base_url": upstreams.base_url("chat"),
            "api_key": "upstream-key", "limits": {"rpm": 2},
        },
    }  # fmt: skip
    targets = [{"provider": "mock-chat", "model": "a"}, {"provider": "mock-gemini", "model": "b"}]
    alias = {"targets": targets, "selector": "in_order"}
    config = upstreams.config(
        {"keys": {"alice": {"secret": "sk-alice"}}, "providers": providers,
         "models": {"chat-model": alias}}
    )  # fmt: skip
    gateway = Gateway(config)
    gateway.limiter.clock = lambda: 600.0
    async with run_gateway(config, gateway) as url:
        assert await _fire(url, 5) == [None] * 5
    assert len(upstreams.states["chat"].received) == 2
    assert len(upstreams.states["gemini"].received) == 3


async def test_an_alias_limit_holds_for_every_key(upstreams: Upstreams) -> None:
    config = upstreams.config(
        {
            "keys": {"alice": {"secret": "sk-alice"}, "bob": {"secret": "sk-bob"}},
            "models": {
                "chat-model": {
                    "targets": [{"provider": "mock-chat", "model": "up"}],
                    "limits": {"rpm": 2},
                }
            },
        }
    )
    gateway = Gateway(config)
    gateway.limiter.clock = lambda: 600.0
    async with run_gateway(config, gateway) as url:
        for key in ("sk-alice", "sk-bob"):
            client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
            await client.chat.completions.create(model="chat-model", messages=HI)
        with pytest.raises(openai.RateLimitError, match="for alias 'chat-model'"):
            await client.chat.completions.create(model="chat-model", messages=HI)
        await client.chat.completions.create(model="messages-model", messages=HI)


async def test_tokens_are_estimated_then_counted(upstreams: Upstreams) -> None:
    gateway = Gateway(_config(upstreams, {"tpm": 4000}))
    gateway.limiter.clock = lambda: 600.0
    async with run_gateway(gateway.config, gateway) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-alice", max_retries=0)
        answer = await client.chat.completions.with_raw_response.create(
            model="chat-model", messages=HI, max_tokens=1000
        )
        # At admission this request held its estimate: its body's tokens and 1000 out.
        held = 4000 - int(answer.headers["x-ratelimit-remaining-tokens"])
        assert 1000 < held < 1100
        assert answer.headers["x-ratelimit-limit-tokens"] == "4000"
        await client.embeddings.create(model="chat-model", input="hi")  # no output estimate
        later = await client.chat.completions.with_raw_response.create(
            model="chat-model", messages=HI, max_tokens=1000
        )
    rule = next(r for r in gateway.gate._keys["alice"] if r.unit == "tokens")
    # Settled: 18 tokens per chat answer, the embedding's usage, not the estimates.
    assert 36 <= gateway.limiter.used(rule) < 60
    assert 4000 - int(later.headers["x-ratelimit-remaining-tokens"]) < 1100 + 40


async def test_a_key_added_by_a_reload_gets_its_spend(upstreams: Upstreams) -> None:
    config = _config(upstreams, {"budget": {"usd": 1, "period": "day"}})
    async with run_gateway(config) as url:
        assert await _fire(url, 3, max_tokens=10) == [None] * 3
    unlimited = _config(upstreams, {})
    gateway = Gateway(unlimited)
    async with run_gateway(unlimited, gateway):
        gateway.apply_config(config)  # as the config watcher does
        assert gateway._restoring is not None
        await gateway._restoring
        rule = next(r for r in gateway.gate._keys["alice"] if r.unit == "usd")
        assert gateway.limiter.used(rule) == pytest.approx(3 * 0.018)


async def test_max_parallel_holds_while_answers_are_pending(upstreams: Upstreams) -> None:
    release, both_waiting = asyncio.Event(), asyncio.Event()
    arrived: list[None] = []

    async def slow(request: web.Request) -> web.Response:
        arrived.append(None)
        if len(arrived) == 2:
            both_waiting.set()
        await release.wait()
        return web.json_response(
            {
                "id": "c", "object": "chat.completion", "created": 0, "model": "up",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            }
        )  # fmt: skip

    app = web.Application()
    app.router.add_post("/v1/chat/completions", slow)
    async with serve_app(app) as base:
        provider = {"type": "chat", "api_base_url": base + "/v1", "api_key": "k"}
        config = upstreams.config(
            {
                "keys": {"alice": {"secret": "sk-alice", "max_parallel": 2}},
                "providers": {"mock-chat": provider},
            }
        )
        async with run_gateway(config) as url:
            pending = [asyncio.create_task(_fire(url, 1)) for _ in range(2)]
            await both_waiting.wait()
            [refused] = await _fire(url, 1)
            assert isinstance(refused, openai.RateLimitError)
            assert "max_parallel 2" in str(refused)
            release.set()
            assert [await task for task in pending] == [[None], [None]]
            assert await _fire(url, 2) == [None, None]  # the slots came back
