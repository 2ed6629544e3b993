"""The in-process quota pool grants within the limit per window and forgets old windows."""

from __future__ import annotations

import asyncio

import pytest

from plexus.limits.pool import LocalPool, QuotaPool


def test_grants_never_sum_past_the_limit() -> None:
    pool = LocalPool()
    granted = [pool.grant("rpm:key:a", 7, 4, 10, 60) for _ in range(4)]
    assert granted == [4, 4, 2, 0]
    assert pool.used("rpm:key:a", 7) == 10
    assert pool.grant("rpm:key:a", 8, 4, 10, 60) == 4  # a new window starts afresh


def test_give_back_and_add_move_the_count() -> None:
    pool = LocalPool()
    pool.grant("tpm:key:a", 1, 100, 100, 60)
    pool.give_back("tpm:key:a", 1, 30)
    assert pool.used("tpm:key:a", 1) == 70
    pool.add("tpm:key:a", 1, 50)
    assert pool.used("tpm:key:a", 1) == 120
    assert pool.grant("tpm:key:a", 1, 1, 100, 60) == 0


def test_seed_only_sets_a_missing_counter() -> None:
    pool: QuotaPool = LocalPool()

    async def run() -> None:
        await pool.seed("usd:key:a", 3, 2.5, 60)
        await pool.seed("usd:key:a", 3, 9.0, 60)
        assert await pool.lease("usd:key:a", 3, 1.0, 3.0, 60) == pytest.approx(0.5)

    asyncio.run(run())
    assert pool.used("usd:key:a", 3) == pytest.approx(3.0)
    assert pool.used("usd:key:b", 3) is None


def test_windows_past_their_ttl_are_forgotten() -> None:
    pool = LocalPool()
    pool.grant("rpm:key:a", 1, 1, 10, 0.0)
    pool._next_sweep = 0.0  # the sweep runs at most once a second; force it
    pool.grant("rpm:key:b", 1, 1, 10, 60)
    assert pool.used("rpm:key:a", 1) is None
