"""The Limiter: admits a request against its key's, alias's and provider's counters, and
settles each counter with what the request really used when it ends.

Every counter is held by a `QuotaPool`. With the in-process `LocalPool` (one replica) quota is
granted synchronously: nothing on the request path awaits. With a shared pool, windowed
counters (rpm, tpm) are leased in chunks sized to the limit and spent from memory, so a loose
limit costs almost no round trips; parallel slots and budgets are leased exactly. A budget is
reserved at admission with the request's estimated cost and settled with its real cost; the
last request admitted may get only what is left, so spend passes the budget by at most one
request's estimate.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from plexus.errors import RateLimited
from plexus.limits.periods import Period, Span, span_of
from plexus.limits.pool import LocalPool, PoolUnavailable, QuotaPool
from plexus.limits.rules import Rule

_log = structlog.get_logger("plexus")
MIN_USD = 1e-9  # what a request with no estimated cost reserves from a budget
CHUNKS_PER_WINDOW = 50  # a shared pool's lease of a windowed counter: limit / this, at least 1


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a request may use, as guessed at admission."""

    tokens: int = 0
    usd: float = 0.0


@dataclass(slots=True)
class _Taken:
    rule: Rule
    window: int
    amount: float
    pool: QuotaPool


def _stocked(rule: Rule) -> bool:
    """Whether a shared pool leases the counter in chunks though it is not windowed: budgets
    always; parallel slots when a chunk is at least 2 (else idle slots held by one replica
    could starve the others)."""
    return rule.unit == "usd" or (rule.unit == "parallel" and rule.limit >= 2 * CHUNKS_PER_WINDOW)


class Ticket:
    """What one request took from its counters; settled once, when it ends."""

    __slots__ = ("_limiter", "_settled", "taken")

    def __init__(self, limiter: Limiter, taken: list[_Taken]) -> None:
        self._limiter = limiter
        self.taken = taken
        self._settled = False

    def settle(self, tokens: int | None, usd: float | None) -> None:
        """Correct the estimates with what was really used (None: nothing known, e.g. an
        error: the reservation is released) and free the parallel slots."""
        self._settle(tokens, usd, keep=False)

    def keep(self) -> None:
        """Spend what was reserved and free the parallel slots: the answer began but its
        usage never came (a cut stream), so the estimate stands for what the provider bills."""
        self._settle(None, None, keep=True)

    def _settle(self, tokens: int | None, usd: float | None, *, keep: bool) -> None:
        if self._settled:
            return
        self._settled = True
        limiter = self._limiter
        for taken in self.taken:
            rule, amount, pool = taken.rule, taken.amount, taken.pool
            # A shared pool's stocked counters get back what is left to the replica's stock.
            stocked = pool is limiter.pool and limiter.shared and _stocked(rule)
            match rule.unit:
                case "parallel":
                    if stocked:
                        limiter.restock(rule, taken.window, amount)
                    else:
                        pool.give_back(rule.counter, taken.window, amount)
                    continue
                case _ if keep:
                    continue
                case "tokens":
                    actual = float(tokens) if tokens is not None else 0.0
                case "usd":
                    actual = usd if usd is not None else 0.0
                    self._limiter.warn_budget(rule, taken.window, actual - amount)
                case _:
                    continue
            if actual > amount:
                pool.add(rule.counter, taken.window, actual - amount)
            elif actual < amount and stocked:
                limiter.restock(rule, taken.window, amount - actual)
            elif actual < amount:
                pool.give_back(rule.counter, taken.window, amount - actual)

    def release(self) -> None:
        """Give everything back: the request failed before using anything."""
        self.settle(None, None)


class Limiter:
    """Counts requests, tokens, parallel requests and spend against their limits."""

    def __init__(
        self,
        pool: QuotaPool,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.window = window
        self.clock = clock
        self._local = pool if isinstance(pool, LocalPool) else None
        self.shared = self._local is None
        self._fallback = LocalPool()
        self._pool_down = False
        self.fallbacks = 0  # grants made locally because the shared pool could not answer
        # A shared pool's windowed counters: leased and not yet spent; the lease in flight
        # (one per counter: a burst waits for it instead of leasing in parallel and stranding
        # the leftovers); the windows the pool has no more for.
        self._held: dict[tuple[str, int], float] = {}
        self._leasing: dict[tuple[str, int], asyncio.Future[None]] = {}
        self._spent: set[tuple[str, int]] = set()
        self._held_window = 0  # the window `_held` and `_spent` were last pruned in
        # Budgets and loose parallel limits held the same way, across windows: what a request
        # gives back stays here up to one chunk, the rest goes back to the pool for the others.
        self._stock: dict[tuple[str, int], float] = {}
        self._warned: set[tuple[str, int]] = set()
        self._spans: dict[Period, Span] = {}  # the budget periods in force, until they end

    def now(self) -> float:
        """The limiter's clock (Unix seconds)."""
        return self.clock()

    def window_of(self, now: float) -> tuple[int, float]:
        """The rate window `now` is in, and the seconds until it ends."""
        window = int(now // self.window)
        return window, (window + 1) * self.window - now

    async def admit(self, rules: Iterable[Rule], estimate: Estimate) -> Ticket:
        """Take what the request needs from every rule's counter, or nothing and raise
        RateLimited."""
        now = self.clock()
        window, _ = self.window_of(now)
        taken: list[_Taken] = []
        for rule in rules:
            slot, amount = self._slot(rule, window, now), self._amount(rule, estimate)
            granted, source = await self._take(rule, slot, amount)
            # A budget admits while anything is left; everything else needs its whole amount.
            if granted < amount and not (rule.unit == "usd" and granted > 0):
                for back in (*taken, _Taken(rule, slot, granted, source)):  # all back
                    if back.amount:
                        back.pool.give_back(back.rule.counter, back.window, back.amount)
                raise self._refusal(rule, amount, now)
            taken.append(_Taken(rule, slot, granted, source))
        return Ticket(self, taken)

    def used(self, rule: Rule, now: float | None = None) -> float:
        """What a counter has used in its current window or period (0 when unknown)."""
        now = self.clock() if now is None else now
        slot = self._slot(rule, self.window_of(now)[0], now)
        used = self.pool.used(rule.counter, slot) or 0.0
        return max(0.0, used - self._stock.get((rule.counter, slot), 0.0))  # held, not used

    def headers(self, rules: Iterable[Rule]) -> list[tuple[bytes, bytes]]:
        """OpenAI's `x-ratelimit-*` headers for a key's rpm and tpm, and its remaining budget
        once past the warning threshold."""
        now = self.clock()
        _, left = self.window_of(now)
        headers: list[tuple[bytes, bytes]] = []
        for rule in rules:
            if rule.unit in ("requests", "tokens"):
                remaining = max(0, math.floor(rule.limit - self.used(rule, now)))
                suffix = rule.unit.encode()
                headers += [
                    (b"x-ratelimit-limit-" + suffix, str(int(rule.configured)).encode()),
                    (b"x-ratelimit-remaining-" + suffix, str(remaining).encode()),
                    (b"x-ratelimit-reset-" + suffix, duration(left).encode()),
                ]
            elif rule.unit == "usd" and rule.budget is not None:
                used = self.used(rule, now)
                if used >= rule.limit * rule.budget.warn_at:
                    remaining_usd = max(0.0, rule.limit - used)
                    headers.append(
                        (b"x-plexus-budget-remaining-usd", f"{remaining_usd:.6f}".encode())
                    )
        return headers

    async def restore(self, rule: Rule, spent: float) -> None:
        """Seed a budget's counter with what was spent this period before the start."""
        now = self.clock()
        slot = self._slot(rule, 0, now)
        try:
            await self.pool.seed(rule.counter, slot, spent, rule.ttl)
        except PoolUnavailable:
            await self._fallback.seed(rule.counter, slot, spent, rule.ttl)

    def warn_budget(self, rule: Rule, period: int, change: float) -> None:
        """Log once per period when a budget's spend passes its warning threshold."""
        budget = rule.budget
        if budget is None or (rule.counter, period) in self._warned:
            return
        used = (self.pool.used(rule.counter, period) or 0.0) + change
        if used >= rule.limit * budget.warn_at:
            self._warned.add((rule.counter, period))
            _log.warning(
                "budget nearly spent", counter=rule.counter, spent_usd=round(used, 6),
                budget_usd=rule.limit, period=budget.period,
            )  # fmt: skip

    def _slot(self, rule: Rule, window: int, now: float) -> int:
        match rule.unit:
            case "parallel":
                return 0
            case "usd":
                assert rule.budget is not None
                return self.span(rule.budget.period, now).id
            case _:
                return window

    def span(self, period: Period, now: float) -> Span:
        """The budget period `now` is in (computed once per period, not per request)."""
        span = self._spans.get(period)
        if span is None or now < span.start or (span.end is not None and now >= span.end):
            span = self._spans[period] = span_of(period, now)
        return span

    @staticmethod
    def _amount(rule: Rule, estimate: Estimate) -> float:
        match rule.unit:
            case "tokens":  # never more than the limit: a big request waits for an empty window
                return float(min(estimate.tokens, rule.limit))
            case "usd":  # never nothing: an unpriced model still needs budget left
                return max(estimate.usd, MIN_USD)
            case _:
                return 1.0

    async def _take(self, rule: Rule, slot: int, amount: float) -> tuple[float, QuotaPool]:
        """What the counter granted, and the pool it came from (what is given back goes
        there: the fallback's grants to the fallback)."""
        if self._local is not None:
            return self._local.grant(rule.counter, slot, amount, rule.limit, rule.ttl), self._local
        stocked = _stocked(rule)
        if rule.unit not in ("requests", "tokens") and not stocked:  # tight parallel: exact
            try:
                granted = await self.pool.lease(rule.counter, slot, amount, rule.limit, rule.ttl)
            except PoolUnavailable as error:
                return self._fall_back(rule, slot, amount, error)
            self._pool_back()
            return granted, self.pool
        held_by = self._stock if stocked else self._held
        key = (rule.counter, slot)
        while (pending := self._leasing.get(key)) is not None and held_by.get(key, 0.0) < amount:
            await asyncio.shield(pending)
        held = held_by.get(key, 0.0)
        if held < amount and key not in self._spent:
            chunk = max(amount - held, rule.limit / CHUNKS_PER_WINDOW)
            self._prune(self.window_of(self.clock())[0])
            pending = self._leasing[key] = asyncio.get_running_loop().create_future()
            try:
                granted = await self.pool.lease(rule.counter, slot, chunk, rule.limit, rule.ttl)
            except PoolUnavailable as error:
                return self._fall_back(rule, slot, amount, error)
            finally:
                del self._leasing[key]
                pending.set_result(None)
            self._pool_back()
            if granted < chunk and not stocked:  # (what is stocked comes back when settled)
                self._spent.add(key)  # used up everywhere: no round trip per refusal
            held = held_by[key] = held_by.get(key, 0.0) + granted
        if held < amount:
            if rule.unit == "usd" and held > 0:  # a budget admits while anything is left
                held_by[key] = 0.0
                return held, self.pool
            return 0.0, self.pool  # kept: the next, smaller request may fit
        held_by[key] = held - amount
        return amount, self.pool

    def restock(self, rule: Rule, slot: int, amount: float) -> None:
        """Take back what a request gave back of a stocked counter: up to one chunk stays
        here for the next requests, the rest goes back to the pool."""
        key = (rule.counter, slot)
        held = self._stock.get(key, 0.0) + amount
        room = rule.limit / CHUNKS_PER_WINDOW
        if held > room:
            self.pool.give_back(rule.counter, slot, held - room)
            held = room
        self._stock[key] = held

    def _prune(self, window: int) -> None:
        """Forget the leftovers of windows that are over (once per window)."""
        if window <= self._held_window:
            return
        self._held_window = window
        for key in [key for key in self._held if key[1] < window - 1]:  # in place: a caller
            del self._held[key]  # may hold the dict
        self._spent = {key for key in self._spent if key[1] >= window - 1}

    def _fall_back(
        self, rule: Rule, slot: int, amount: float, error: PoolUnavailable
    ) -> tuple[float, QuotaPool]:
        self._pool_lost(error)
        self.fallbacks += 1
        fallback = self._fallback
        return fallback.grant(rule.counter, slot, amount, rule.limit, rule.ttl), fallback

    def _pool_lost(self, error: PoolUnavailable) -> None:
        if not self._pool_down:
            _log.warning("quota pool unavailable: limits enforced locally", error=str(error))
        self._pool_down = True

    def _pool_back(self) -> None:
        if self._pool_down:
            _log.warning("quota pool back: limits shared again")
            self._pool_down = False

    def _refusal(self, rule: Rule, amount: float, now: float) -> RateLimited:
        if rule.unit == "usd":
            assert rule.budget is not None
            end = self.span(rule.budget.period, now).end
            wait = None if end is None else end - now
            what = f"Budget of {rule.configured:g} USD per {rule.budget.period} used up"
            if rule.budget.period == "once":
                what = f"Budget of {rule.configured:g} USD used up"
        elif rule.unit == "parallel":
            wait = 1.0  # a slot frees when a request ends: no window to wait for
            what = f"Too many requests at once (max_parallel {rule.configured:g})"
        else:
            wait = self.window_of(now)[1]
            per_minute = "rpm" if rule.unit == "requests" else "tpm"
            what = (
                f"Rate limit reached for {rule.unit} per minute ({per_minute}): "
                f"Limit {rule.configured:g}, Requested {amount:g}"
            )
        _, scope, name = rule.counter.split(":", 2)
        message = f"{what} for {scope} '{name}'."
        headers: list[tuple[bytes, bytes]] = []
        retry_after = None
        if wait is not None:
            message += f" Please try again in {duration(wait)}."
            retry_after = str(max(1, math.ceil(wait)))
            headers.append((b"retry-after-ms", str(max(1, math.ceil(wait * 1000))).encode()))
        if rule.unit in ("requests", "tokens"):
            suffix = rule.unit.encode()
            headers += [
                (b"x-ratelimit-limit-" + suffix, str(int(rule.configured)).encode()),
                (b"x-ratelimit-remaining-" + suffix, b"0"),
                (b"x-ratelimit-reset-" + suffix, duration(wait or 0.0).encode()),
            ]
        return RateLimited(message, headers, retry_after)


def duration(seconds: float) -> str:
    """A wait as OpenAI writes it in `x-ratelimit-reset-*`: `120ms`, `6.5s`, `1m30s`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(math.ceil(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{rest}s"
