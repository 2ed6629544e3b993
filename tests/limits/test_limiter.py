"""The Limiter on its own: parallel slots, settling tokens and spend, a budget's last
partial reservation, and a shared pool leased in chunks that falls back when it is down."""

from __future__ import annotations

import asyncio

import pytest

from plexus.config import BudgetConfig
from plexus.errors import RateLimited
from plexus.limits.limiter import Estimate, Limiter, duration
from plexus.limits.pool import LocalPool, PoolUnavailable
from plexus.limits.rules import rules_for


def _limiter(pool: object | None = None) -> Limiter:
    limiter = Limiter(pool or LocalPool())  # type: ignore[arg-type]
    limiter.clock = lambda: 1000.0
    return limiter


async def test_parallel_slots_free_when_a_request_settles() -> None:
    limiter = _limiter()
    rules = rules_for("key", "a", max_parallel=2)
    first = await limiter.admit(rules, Estimate())
    await limiter.admit(rules, Estimate())
    with pytest.raises(RateLimited, match="max_parallel 2"):
        await limiter.admit(rules, Estimate())
    first.release()
    await limiter.admit(rules, Estimate())


async def test_tokens_are_settled_to_what_was_used() -> None:
    limiter = _limiter()
    rules = rules_for("key", "a", tpm=1000)
    ticket = await limiter.admit(rules, Estimate(tokens=600))
    assert limiter.used(rules[0]) == 600
    ticket.settle(100, None)
    ticket.settle(900, None)  # settled once only
    assert limiter.used(rules[0]) == 100
    with pytest.raises(RateLimited):  # capped at the limit: it waits for an empty window
        await limiter.admit(rules, Estimate(tokens=5000))
    rest = await limiter.admit(rules, Estimate(tokens=900))
    rest.settle(None, None)  # an error: the reservation goes back
    assert limiter.used(rules[0]) == 100


async def test_a_refusal_takes_nothing_from_the_other_counters() -> None:
    limiter = _limiter()
    rules = rules_for("key", "a", rpm=10, max_parallel=1)
    await limiter.admit(rules, Estimate())
    with pytest.raises(RateLimited):
        await limiter.admit(rules, Estimate())
    assert [limiter.used(rule) for rule in rules] == [1, 1]


async def test_fifty_concurrent_reservations_hold_the_budget() -> None:
    limiter = _limiter()
    rules = rules_for("key", "a", budget=BudgetConfig(usd=1.0, period="day"))
    admitted = 0

    async def one() -> None:
        nonlocal admitted
        try:
            ticket = await limiter.admit(rules, Estimate(usd=0.07))
        except RateLimited:
            return
        admitted += 1
        await asyncio.sleep(0)
        ticket.settle(None, 0.07)  # the estimate was right

    await asyncio.gather(*(one() for _ in range(50)))
    assert admitted == 15  # 14 whole reservations and the last 0.02 left
    assert 1.0 <= limiter.used(rules[0]) <= 1.0 + 0.07


class _SharedPool:
    """A stand-in for a shared store: counts its round trips, can be taken down."""

    def __init__(self) -> None:
        self.local = LocalPool()
        self.leases = 0
        self.down = False
        self.give_back, self.add, self.used = self.local.give_back, self.local.add, self.local.used

    async def seed(self, counter: str, window: int, value: float, ttl: float) -> None:
        await self.local.seed(counter, window, value, ttl)

    async def lease(
        self, counter: str, window: int, amount: float, limit: float, ttl: float
    ) -> float:
        if self.down:
            raise PoolUnavailable("gone")
        self.leases += 1
        await asyncio.sleep(0)  # a round trip: other requests run meanwhile
        return self.local.grant(counter, window, amount, limit, ttl)


async def test_a_shared_pool_is_leased_in_chunks_and_never_past_the_limit() -> None:
    pool = _SharedPool()
    limiter = _limiter(pool)
    loose, tight = rules_for("key", "a", rpm=1000), rules_for("key", "b", rpm=10)
    for _ in range(100):
        await limiter.admit(loose, Estimate())
    assert pool.leases == 5  # 20 at a time
    for _ in range(10):
        await limiter.admit(tight, Estimate())
    with pytest.raises(RateLimited):
        await limiter.admit(tight, Estimate())
    assert pool.leases == 5 + 11  # a tight limit costs a round trip per request
    assert pool.used("rpm:key:b", 16) == 10


async def test_a_burst_uses_every_lease_it_took() -> None:
    # Leftovers of leases that came back at once overwrote each other: of an rpm of 200, a
    # burst of 1,000 got 62 (seen across two replicas on Valkey).
    limiter = _limiter(_SharedPool())
    rules = rules_for("key", "a", rpm=200)

    async def one() -> bool:
        try:
            await limiter.admit(rules, Estimate())
        except RateLimited:
            return False
        return True

    admitted = await asyncio.gather(*(one() for _ in range(1000)))
    assert sum(admitted) == 200


async def test_loose_budgets_and_parallel_limits_lease_in_chunks() -> None:
    # A round trip per request for a budget of a million dollars cost a third of the
    # throughput with two replicas on Valkey: loose counters are leased in chunks as well.
    pool = _SharedPool()
    limiter = _limiter(pool)
    budget = BudgetConfig(usd=1000.0, period="once")
    rules = rules_for("key", "a", max_parallel=1000, budget=budget)
    for _ in range(100):
        ticket = await limiter.admit(rules, Estimate(usd=0.5))
        ticket.settle(None, 0.25)  # cheaper than reserved: the rest stays for the next
    assert pool.leases <= 6
    parallel, spend = rules
    assert limiter.used(parallel) == 0
    assert limiter.used(spend) == pytest.approx(25.0)  # spent, not what this replica holds


async def test_a_tight_parallel_limit_frees_its_slots_for_other_replicas() -> None:
    pool = _SharedPool()
    mine, other = _limiter(pool), _limiter(pool)
    rules = rules_for("key", "a", max_parallel=3)
    tickets = [await mine.admit(rules, Estimate()) for _ in range(3)]
    with pytest.raises(RateLimited):
        await other.admit(rules, Estimate())
    for ticket in tickets:
        ticket.release()
    for _ in range(3):  # none stays held by the replica that used them
        await other.admit(rules, Estimate())


async def test_a_budget_shared_in_chunks_is_never_overspent() -> None:
    pool = _SharedPool()
    replicas = [_limiter(pool), _limiter(pool)]
    rules = rules_for("key", "a", budget=BudgetConfig(usd=10.0, period="once"))
    spent = 0.0
    for turn in range(100):
        try:
            ticket = await replicas[turn % 2].admit(rules, Estimate(usd=0.3))
        except RateLimited:
            continue
        ticket.settle(None, 0.3)
        spent += 0.3
    assert 10.0 - 0.3 < spent <= 10.0 + 0.3


async def test_a_pool_that_is_down_falls_back_to_local_limits() -> None:
    pool = _SharedPool()
    pool.down = True
    limiter = _limiter(pool)
    rules = rules_for("key", "a", rpm=2)
    await limiter.admit(rules, Estimate())
    await limiter.admit(rules, Estimate())
    with pytest.raises(RateLimited):
        await limiter.admit(rules, Estimate())
    pool.down = False
    await limiter.admit(rules_for("key", "b", rpm=2), Estimate())
    assert pool.leases == 1


@pytest.mark.parametrize(
    ("seconds", "written"),
    [(0.1204, "121ms"), (6.5, "6.5s"), (59.5, "59.5s"), (90, "1m30s"), (3700, "1h1m40s")],
)
def test_durations_as_openai_writes_them(seconds: float, written: str) -> None:
    assert duration(seconds) == written


async def test_past_warn_at_answers_carry_the_remaining_budget() -> None:
    limiter = _limiter()
    budget = BudgetConfig(usd=1.0, period="month", warn_at=0.5)
    rules = rules_for("key", "a", budget=budget)
    first = await limiter.admit(rules, Estimate(usd=0.3))
    first.settle(None, 0.3)
    assert limiter.headers(rules) == []
    second = await limiter.admit(rules, Estimate(usd=0.3))
    second.settle(None, 0.3)
    assert limiter.headers(rules) == [(b"x-plexus-budget-remaining-usd", b"0.400000")]


async def test_a_spent_budget_refuses_requests_of_unknown_cost() -> None:
    limiter = _limiter()
    rules = rules_for("key", "a", budget=BudgetConfig(usd=0.1, period="once"))
    unpriced = await limiter.admit(rules, Estimate())
    unpriced.settle(None, None)
    spender = await limiter.admit(rules, Estimate(usd=0.1))
    spender.settle(None, 0.1)
    with pytest.raises(RateLimited, match=r"Budget of 0\.1 USD used up"):
        await limiter.admit(rules, Estimate())


async def test_slots_taken_while_the_pool_is_down_come_back_to_the_fallback() -> None:
    pool = _SharedPool()
    pool.down = True
    limiter = _limiter(pool)
    rules = rules_for("key", "a", max_parallel=1, tpm=100)
    for _ in range(3):  # each settled: the fallback's slot and tokens are freed every time
        ticket = await limiter.admit(rules, Estimate(tokens=60))
        ticket.settle(10, None)
    assert pool.local.used("par:key:a", 0) is None  # nothing reached the shared pool
