"""A test-only copy of the `QuotaPool` protocol of limits-contract.md (the real one is
`plexus.limits.pool`, the limits branch's): mypy checks `RedisPool` against it. When that
branch is on main, import it from there and delete this file."""

from __future__ import annotations

from typing import Protocol


class QuotaPool(Protocol):
    async def lease(
        self, counter: str, window: int, amount: float, limit: float, ttl: float
    ) -> float: ...

    def give_back(self, counter: str, window: int, amount: float) -> None: ...

    def add(self, counter: str, window: int, amount: float) -> None: ...

    async def seed(self, counter: str, window: int, value: float, ttl: float) -> None: ...

    def used(self, counter: str, window: int) -> float | None: ...
