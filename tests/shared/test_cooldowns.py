"""Cooldowns broadcast between gateways through a real Valkey: a target one replica saw fail
cools on the others, and its recovery ends that everywhere."""

from __future__ import annotations

import asyncio
import time

import msgspec
import openai
import pytest

from plexus.app import Gateway
from plexus.health import Health
from plexus.shared.cooldowns import CHANNEL, CooldownBroadcast, CooldownMessage
from plexus.shared.replica import Shared
from plexus.shared.store import SharedStore
from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply
from tests.shared.valkey import Valkey

pytestmark = pytest.mark.slow

TARGET = ("mock-chat", "up-chat")
HI: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


async def _until(condition: object, seconds: float = 2.0) -> float:
    """Wait for `condition()` to hold; how long it took."""
    assert callable(condition)
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "not within the time allowed"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_a_cooldown_and_its_end_reach_the_other_gateway(
    upstreams: Upstreams, valkey: Valkey
) -> None:
    config = upstreams.config({"server": {"redis_url": valkey.url}})
    one, two = Gateway(config), Gateway(config)
    async with run_gateway(config, one) as url, run_gateway(config, two):
        await _until(lambda: one.shared is not None and one.shared.up and two.shared is not None)
        await valkey.until_subscribed(CHANNEL, 2)
        upstreams.states["chat"].reply = Reply(error_status=503, error_message="down")
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="chat-model", messages=HI)
        assert one.health.cooling(TARGET)
        took = await _until(lambda: two.health.cooling(TARGET))
        # It cools on the other gateway about as long as on the one that saw the failure.
        assert abs(two.health.cooling_until(TARGET) - one.health.cooling_until(TARGET)) < 0.5
        upstreams.states["chat"].reply = Reply()
        await asyncio.sleep(max(0.0, one.health.cooling_until(TARGET) - time.monotonic()))
        await client.chat.completions.create(model="chat-model", messages=HI)
        assert not one.health.cooling(TARGET)
        two.health.failed(TARGET)  # cools again on the second only…
        await _until(lambda: one.health.cooling(TARGET))  # …and is told to the first
        await client.chat.completions.create(model="chat-model", messages=HI)
        await _until(lambda: not two.health.cooling(TARGET))
    assert took < 1.0


async def test_a_gateway_ignores_its_own_messages(valkey: Valkey) -> None:
    store = SharedStore(valkey.url)
    await store.start()
    health = Health()
    broadcast = CooldownBroadcast(store, health)
    try:
        broadcast._apply(msgspec.json.encode(CooldownMessage(broadcast.origin, *TARGET, 30.0, 1)))
        assert not health.cooling(TARGET)
        broadcast._apply(msgspec.json.encode(CooldownMessage("someone-else", *TARGET, 30.0, 1)))
        assert health.cooling(TARGET)
        broadcast._apply(b"not json")  # a stranger on the channel: ignored, not fatal
    finally:
        await store.close()


async def test_the_broadcast_resumes_after_the_store_restarts(valkey: Valkey) -> None:
    one, two = Shared(valkey.url, Health()), Shared(valkey.url, Health())
    await one.start()
    await two.start()
    try:
        await valkey.kill()
        one.cooldowns.health.failed(TARGET)  # told to a store going away: lost with it
        await _until(lambda: not one.up and not two.up)
        await valkey.start()
        await _until(lambda: one.up and two.up, seconds=10.0)
        assert not two.cooldowns.health.cooling(TARGET)
        await valkey.until_subscribed(CHANNEL, 2)
        one.cooldowns.health.failed(TARGET)
        await _until(lambda: two.cooldowns.health.cooling(TARGET))
    finally:
        await one.close()
        await two.close()
