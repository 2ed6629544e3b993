"""Without a reachable Redis/Valkey: a replica says its limits are its own, serves anyway, and
reports the loss as a metric; the cooldown hook in Health tells changes only."""

from __future__ import annotations

import time

import aiohttp
import pytest
from structlog.testing import capture_logs

from plexus.config import ConfigError, parse_config
from plexus.health import Health
from plexus.limits.pool import PoolUnavailable
from plexus.shared.redis_pool import RedisPool
from plexus.shared.store import SharedStore
from tests.conftest import Upstreams, run_gateway
from tests.ports import free_port

TARGET = ("p", "m")


async def test_a_gateway_without_redis_says_its_limits_are_its_own(upstreams: Upstreams) -> None:
    with capture_logs() as logs:
        async with run_gateway(upstreams.config()):
            pass
    assert any("per replica" in entry["event"] for entry in logs)


async def test_an_unreachable_store_serves_requests_and_shows_in_the_metrics(
    upstreams: Upstreams,
) -> None:
    redis_url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"  # nobody listens there
    config = upstreams.config({"server": {"redis_url": redis_url}})
    body = {"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]}
    with capture_logs() as logs:
        async with run_gateway(config) as url, aiohttp.ClientSession() as session:
            async with session.post(url + "/v1/chat/completions", json=body) as answer:
                assert answer.status == 200
            async with session.get(url + "/metrics") as answer:
                metrics = await answer.text()
    assert "plexus_shared_state_up 0" in metrics.splitlines()
    lost = [entry for entry in logs if "shared state store lost" in entry["event"]]
    assert len(lost) == 1
    assert "s3cret" not in str(lost)


async def test_metrics_show_no_loss_without_redis(upstreams: Upstreams) -> None:
    async with (
        run_gateway(upstreams.config()) as url,
        aiohttp.ClientSession() as session,
        session.get(url + "/metrics") as answer,
    ):
        assert "plexus_shared_state_up 1" in (await answer.text()).splitlines()


async def test_a_pool_without_its_store_refuses_at_once() -> None:
    store = SharedStore(f"redis://127.0.0.1:{free_port()}/0")
    await store.start()
    pool = RedisPool(store)
    try:
        started = time.monotonic()
        with pytest.raises(PoolUnavailable):
            await pool.lease("rpm:key:k", 1, 1.0, 10.0, 60.0)
        with pytest.raises(PoolUnavailable):
            await pool.seed("usd:key:k", 1, 1.0, 60.0)
        assert time.monotonic() - started < 0.05
        pool.add("tpm:key:k", 1, 5.0)
        await pool.flush()  # kept for later, not lost
        assert pool._pending == {("tpm:key:k", 1): 5.0}
        assert pool.used("tpm:key:k", 1) is None
    finally:
        await pool.close()
        await store.close()


def test_health_tells_a_cooldown_and_its_end_but_not_every_success() -> None:
    health = Health()
    told: list[tuple[tuple[str, str], float | None, int]] = []
    health.on_change = lambda key, seconds, failures: told.append((key, seconds, failures))
    health.succeeded(TARGET, 0.1)
    health.failed(TARGET)
    health.failed(TARGET, retry_after=20.0)
    health.succeeded(TARGET, 0.1)
    health.succeeded(TARGET, 0.1)
    assert told == [(TARGET, 1.0, 1), (TARGET, 20.0, 2), (TARGET, None, 0)]


def test_health_applies_other_replicas_cooldowns_without_telling_them_back() -> None:
    health = Health()
    told: list[object] = []
    health.on_change = lambda *change: told.append(change)
    health.failed_elsewhere(TARGET, 30.0, 3)
    assert health.cooling(TARGET)
    assert 29.0 < health.cooling_until(TARGET) - time.monotonic() <= 30.0
    health.failed_elsewhere(TARGET, 1.0, 1)  # a shorter one does not cut it short
    assert health.cooling_until(TARGET) - time.monotonic() > 29.0
    health.failed(TARGET)  # the count went on from the others' failures: 2**3 seconds
    assert told == [(TARGET, 8.0, 4)]
    health.recovered_elsewhere(TARGET)
    assert not health.cooling(TARGET)
    health.recovered_elsewhere(("never", "seen"))
    assert told == [(TARGET, 8.0, 4)]


@pytest.mark.parametrize(
    "url",
    ["redis://valkey:6379/0", "rediss://:pw@cache.internal:6380", "unix:///run/valkey.sock"],
)
def test_a_redis_url_is_checked_at_load(url: str) -> None:
    assert parse_config({"server": {"redis_url": url}}).server.redis_url == url


@pytest.mark.parametrize("url", ["valkey:6379", "http://valkey:6379", "redis://", "redis://h/x"])
def test_a_malformed_redis_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"server\.redis_url"):
        parse_config({"server": {"redis_url": url}})
