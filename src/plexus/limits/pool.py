"""Where the Limiter gets quota: the protocol a shared store implements, and the in-process pool.

The contract with `plexus.shared` (Redis) is /work/limits-contract.md: counter names are
`rpm:key:<name>`, `tpm:key:<name>`, `par:key:<name>`, `usd:key:<name>`, `rpm:alias:<name>`,
`rpm:provider:<name>` and so on; a window is an integer id (the minute number, the budget
period's id, 0 for windowless counters).
"""

from __future__ import annotations

import time
from typing import Protocol


class PoolUnavailable(Exception):
    """The shared store cannot answer; the Limiter enforces locally meanwhile."""


class QuotaPool(Protocol):
    """Where one replica gets quota for a counter. The Limiter admits requests against quota it
    already holds in memory and calls `lease` (awaited) only when that runs out, so a loose
    limit costs almost no round trips and a tight one (say 10 rpm) costs one per request."""

    async def lease(
        self, counter: str, window: int, amount: float, limit: float, ttl: float
    ) -> float:
        """Claim up to `amount` of `limit` for `counter` in `window` (an integer id, e.g. the
        minute number; 0 for windowless counters such as parallel slots or a `once` budget).
        Returns what was granted, 0 ≤ granted ≤ amount. Across all replicas the grants in one
        window never sum past `limit` (atomic in Redis: a Lua script or INCRBYFLOAT + check).
        `ttl`: seconds after which the window's state may be forgotten.
        Raises `PoolUnavailable` when the shared store cannot answer (the Limiter then falls
        back to enforcing locally and says so once)."""
        ...

    def give_back(self, counter: str, window: int, amount: float) -> None:
        """Return unused quota (not awaited: queued and sent in a pipelined batch)."""
        ...

    def add(self, counter: str, window: int, amount: float) -> None:
        """Record use past what was leased (e.g. tokens known only when the answer ends, a
        budget settled above its estimate); may take the counter over its limit. Not awaited."""
        ...

    async def seed(self, counter: str, window: int, value: float, ttl: float) -> None:
        """Set the counter to `value` if it does not exist yet (budget spend restored from the
        usage store at start)."""
        ...

    def used(self, counter: str, window: int) -> float | None:
        """The last cluster-wide total seen for the counter (for `/v0/self` and the
        `x-ratelimit-remaining-*` headers), None if unknown. Never awaits."""
        ...


class LocalPool:
    """Grants from a dict: the single-replica pool, where `lease` never really waits. The
    Limiter also calls `grant`, its synchronous twin, to keep awaits off the request path."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], float] = {}
        self._expiries: dict[tuple[str, int], float] = {}
        self._next_sweep = 0.0

    async def lease(
        self, counter: str, window: int, amount: float, limit: float, ttl: float
    ) -> float:
        return self.grant(counter, window, amount, limit, ttl)

    def grant(self, counter: str, window: int, amount: float, limit: float, ttl: float) -> float:
        """`lease` without the await."""
        slot = (counter, window)
        now = time.monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
        used = self._counts.get(slot, 0.0)
        granted = min(amount, max(0.0, limit - used))
        self._counts[slot] = used + granted
        self._expiries[slot] = max(self._expiries.get(slot, 0.0), now + ttl)
        return granted

    def give_back(self, counter: str, window: int, amount: float) -> None:
        slot = (counter, window)
        if slot in self._counts:
            self._counts[slot] = max(0.0, self._counts[slot] - amount)

    def add(self, counter: str, window: int, amount: float) -> None:
        slot = (counter, window)
        self._counts[slot] = self._counts.get(slot, 0.0) + amount
        # Use added to a window already forgotten is kept a day rather than forever.
        self._expiries.setdefault(slot, time.monotonic() + 86400.0)

    async def seed(self, counter: str, window: int, value: float, ttl: float) -> None:
        slot = (counter, window)
        if slot not in self._counts:
            self._counts[slot] = value
            self._expiries[slot] = time.monotonic() + ttl

    def used(self, counter: str, window: int) -> float | None:
        return self._counts.get((counter, window))

    def _sweep(self, now: float) -> None:
        """Forgets windows past their ttl, at most once a second (a dict scan)."""
        self._next_sweep = now + 1.0
        for slot in [slot for slot, expiry in self._expiries.items() if expiry <= now]:
            del self._expiries[slot]
            self._counts.pop(slot, None)
