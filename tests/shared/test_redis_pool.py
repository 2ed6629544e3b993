"""RedisPool against a real Valkey: atomic leases across replicas, batched give-backs, and a
store that goes away and comes back (limits-contract.md)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis

from plexus.limits.pool import PoolUnavailable, QuotaPool
from plexus.shared.redis_pool import RedisPool
from plexus.shared.store import SharedStore
from tests.shared.valkey import Valkey

pytestmark = pytest.mark.slow


@asynccontextmanager
async def pool_on(
    url: str, flush_interval: float = 0.15, store_timeout: float = 0.25
) -> AsyncIterator[RedisPool]:
    """A replica's pool: its own connection, started and closed like the gateway does."""
    store = SharedStore(url, store_timeout)
    pool = RedisPool(store, flush_interval)
    _: QuotaPool = pool  # the limits' protocol, checked by mypy
    await store.start()
    pool.start()
    try:
        yield pool
    finally:
        await pool.close()
        await store.close()


async def _value(url: str, key: str) -> float | None:
    client = Redis.from_url(url)
    try:
        raw = await client.get(key)
    finally:
        await client.aclose()
    return None if raw is None else float(raw)


async def test_concurrent_leases_from_two_replicas_never_pass_the_limit(valkey: Valkey) -> None:
    rng = random.Random(7)
    # A generous timeout: what is tested is atomicity, on a machine that may be busy.
    async with (
        pool_on(valkey.url, store_timeout=2.0) as one,
        pool_on(valkey.url, store_timeout=2.0) as two,
    ):
        leases = [
            pool.lease("rpm:key:k", 42, rng.choice([1.0, 2.5, 7.0]), 500.0, 60.0)
            for _ in range(150)
            for pool in (one, two)
        ]
        granted = await asyncio.gather(*leases)
        assert all(0 <= g <= 7.0 for g in granted)
        # Demand (about 1050) is past the limit: every unit is granted, and not one more.
        assert sum(granted) == pytest.approx(500.0)
        assert await _value(valkey.url, "plexus:q:rpm:key:k:42") == pytest.approx(500.0)
        # The last total each replica saw; the next window starts from nothing.
        assert one.used("rpm:key:k", 42) == pytest.approx(500.0)
        assert one.used("rpm:key:k", 43) is None
        assert await one.lease("rpm:key:k", 43, 5.0, 500.0, 60.0) == 5.0


async def test_a_lease_sets_the_windows_life(valkey: Valkey) -> None:
    async with pool_on(valkey.url) as pool:
        assert await pool.lease("rpm:key:k", 1, 3.0, 10.0, 90.0) == 3.0
    client = Redis.from_url(valkey.url)
    try:
        ttl = await client.pttl("plexus:q:rpm:key:k:1")
    finally:
        await client.aclose()
    assert 85_000 < ttl <= 90_000


async def test_give_backs_and_additions_go_in_one_batch(valkey: Valkey) -> None:
    async with pool_on(valkey.url, flush_interval=0.2) as pool:
        for counter in ("tpm:key:a", "tpm:key:b", "usd:key:a"):
            assert await pool.lease(counter, 5, 100.0, 1000.0, 60.0) == 100.0
        before = await _evalsha_calls(valkey)
        for _ in range(50):
            pool.give_back("tpm:key:a", 5, 1.0)
            pool.add("tpm:key:b", 5, 2.0)
            pool.add("usd:key:a", 5, 0.01)
        # Not sent yet: queued in memory, summed per counter.
        assert await _value(valkey.url, "plexus:q:tpm:key:a:5") == 100.0
        await asyncio.sleep(0.5)
        assert await _value(valkey.url, "plexus:q:tpm:key:a:5") == pytest.approx(50.0)
        assert await _value(valkey.url, "plexus:q:tpm:key:b:5") == pytest.approx(200.0)
        assert await _value(valkey.url, "plexus:q:usd:key:a:5") == pytest.approx(100.5)
        # 150 changes, 3 scripts run: one per counter (loaded at connection: no NOSCRIPT retry).
        assert await _evalsha_calls(valkey) - before == 3
        assert pool.used("tpm:key:b", 5) == pytest.approx(200.0)


async def test_a_large_batch_goes_in_pipelines_the_timeout_allows(valkey: Valkey) -> None:
    async with pool_on(valkey.url) as pool:
        for n in range(1000):
            pool.add(f"tpm:key:{n}", 7, 2.0)
        await pool.flush()
        assert pool.store.up
        assert pool._pending == {}
        assert await _value(valkey.url, "plexus:q:tpm:key:999:7") == 2.0
        assert pool.used("tpm:key:0", 7) == 2.0


async def test_a_restarted_store_is_taught_the_scripts_again(valkey: Valkey) -> None:
    async with pool_on(valkey.url) as pool:
        client = Redis.from_url(valkey.url)
        try:
            await client.script_flush()  # as a restarted server, known to nobody
        finally:
            await client.aclose()
        assert await pool.lease("rpm:key:k", 1, 2.0, 10.0, 60.0) == 2.0


async def test_a_give_back_never_takes_a_counter_below_zero(valkey: Valkey) -> None:
    async with pool_on(valkey.url) as pool:
        await pool.lease("par:key:k", 0, 2.0, 10.0, 60.0)
        pool.give_back("par:key:k", 0, 5.0)
        await pool.flush()
        assert await _value(valkey.url, "plexus:q:par:key:k:0") == 0.0


async def test_seed_sets_only_a_counter_that_does_not_exist(valkey: Valkey) -> None:
    async with pool_on(valkey.url) as one, pool_on(valkey.url) as two:
        await one.seed("usd:key:k", 202612, 3.5, 3600.0)
        await two.seed("usd:key:k", 202612, 9.0, 3600.0)  # a second replica's start
        assert await _value(valkey.url, "plexus:q:usd:key:k:202612") == 3.5
        assert await two.lease("usd:key:k", 202612, 10.0, 5.0, 3600.0) == pytest.approx(1.5)


async def test_a_store_killed_mid_run_fails_fast_then_recovers(valkey: Valkey) -> None:
    async with pool_on(valkey.url) as pool:
        assert await pool.lease("rpm:key:k", 1, 1.0, 100.0, 60.0) == 1.0
        await valkey.kill()
        started = time.monotonic()
        with pytest.raises(PoolUnavailable):
            await pool.lease("rpm:key:k", 1, 1.0, 100.0, 60.0)
        first = time.monotonic() - started
        assert first < 0.5  # the store's timeout, not a hang
        assert not pool.store.up
        started = time.monotonic()
        for _ in range(100):
            with pytest.raises(PoolUnavailable):
                await pool.lease("rpm:key:k", 1, 1.0, 100.0, 60.0)
        assert time.monotonic() - started < 0.05  # known away: no waiting at all
        pool.add("tpm:key:k", 1, 40.0)  # queued while away, sent when back
        await pool.flush()
        await valkey.start()
        for _ in range(100):
            if pool.store.up:
                break
            await asyncio.sleep(0.05)
        assert pool.store.up
        assert await pool.lease("rpm:key:k", 1, 1.0, 100.0, 60.0) == 1.0
        await asyncio.sleep(0.4)
        assert await _value(valkey.url, "plexus:q:tpm:key:k:1") == 40.0


async def test_a_hung_store_holds_a_burst_one_timeout_at_most(valkey: Valkey) -> None:
    async with pool_on(valkey.url) as pool:
        assert await pool.lease("rpm:key:k", 1, 1.0, 100.0, 60.0) == 1.0
        valkey.pause()
        try:
            started = time.monotonic()
            first = asyncio.create_task(pool.lease("rpm:key:k", 1, 1.0, 100.0, 60.0))
            await asyncio.sleep(0.05)  # in flight: the burst after it waits its turn
            burst = [pool.lease("rpm:key:k", 1, 1.0, 100.0, 60.0) for _ in range(20)]
            results = await asyncio.gather(first, *burst, return_exceptions=True)
            elapsed = time.monotonic() - started
        finally:
            valkey.resume()
        assert all(isinstance(result, PoolUnavailable) for result in results)
        assert elapsed < 0.45  # one timeout of 0.25 s, not one per round trip
        for _ in range(100):
            if pool.store.up:
                break
            await asyncio.sleep(0.05)
        assert await pool.lease("rpm:key:k", 1, 1.0, 100.0, 60.0) == 1.0


async def _evalsha_calls(valkey: Valkey) -> int:
    client = Redis.from_url(valkey.url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    entry = stats.get("cmdstat_evalsha", {"calls": 0})
    return int(entry["calls"])
