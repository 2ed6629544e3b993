"""What a key, an alias or a provider is limited to, as counters the Limiter checks.

`rpm` and `tpm` are counted over windows of `server.limit_window` seconds, pro rata (60 rpm over
10 s windows is 10 a window). With several workers in one replica and no shared pool, each
worker enforces its share of every limit: the limit / workers, rounded up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from plexus.config import BudgetConfig
from plexus.limits.periods import DAY, ONCE_TTL

Unit = Literal["requests", "tokens", "parallel", "usd"]
_PREFIX: dict[Unit, str] = {"requests": "rpm", "tokens": "tpm", "parallel": "par", "usd": "usd"}
PARALLEL_TTL = 7 * DAY  # a slot is held while its request runs; forgotten only if leaked


@dataclass(frozen=True, slots=True)
class Rule:
    """One counter: its pool name, what this worker may grant, and the limit as configured."""

    counter: str
    unit: Unit
    limit: float  # this worker's share per window (or period, or at once)
    configured: float  # as written: per minute, at once, or USD per period
    budget: BudgetConfig | None = None
    ttl: float = 120.0  # seconds the pool may keep a window's count after its last use


def rules_for(
    scope: str,
    name: str,
    *,
    rpm: int | None = None,
    tpm: int | None = None,
    max_parallel: int | None = None,
    budget: BudgetConfig | None = None,
    window: float = 60.0,
    share: int = 1,
) -> tuple[Rule, ...]:
    """The rules of one key, alias or provider (`scope`: key, alias, provider)."""
    rules: list[Rule] = []
    per_window = window / 60.0
    windowed: tuple[tuple[Unit, int | None], ...] = (("requests", rpm), ("tokens", tpm))
    for unit, value in windowed:
        if value is not None:
            capacity = max(1, math.ceil(value * per_window))
            limit = math.ceil(capacity / share)
            rules.append(_rule(scope, name, unit, limit, value, ttl=2 * window))
    if max_parallel is not None:
        limit = math.ceil(max_parallel / share)
        rules.append(_rule(scope, name, "parallel", limit, max_parallel, ttl=PARALLEL_TTL))
    if budget is not None:
        ttl = ONCE_TTL if budget.period == "once" else 40 * DAY
        rules.append(_rule(scope, name, "usd", budget.usd / share, budget.usd, budget, ttl))
    return tuple(rules)


def _rule(
    scope: str,
    name: str,
    unit: Unit,
    limit: float,
    configured: float,
    budget: BudgetConfig | None = None,
    ttl: float = 120.0,
) -> Rule:
    return Rule(f"{_PREFIX[unit]}:{scope}:{name}", unit, limit, configured, budget, ttl)
