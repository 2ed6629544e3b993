"""Per-target health: cooldowns after failures and recent time to first byte (issue 4)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

BASE_COOLDOWN = 1.0
MAX_COOLDOWN = 300.0
LATENCY_WEIGHT = 0.3  # weight of the newest sample in the moving average
EXPLORE_RATE = 0.1  # how often the latency selector tries another target

# Told of a cooldown's start (its seconds and the failure count) or end (None): the replicas'
# broadcast (shared/cooldowns.py). Called on a change only, never per success.
CooldownListener = Callable[[tuple[str, str], float | None, int], None]


@dataclass(slots=True)
class _TargetHealth:
    failures: int = 0
    cool_until: float = 0.0
    last_failure: float = 0.0
    latency: float | None = None


class Health:
    """Remembers, per (provider, model), how recent calls went."""

    def __init__(self) -> None:
        self._targets: dict[tuple[str, str], _TargetHealth] = {}
        self.on_change: CooldownListener | None = None

    def _get(self, key: tuple[str, str]) -> _TargetHealth:
        health = self._targets.get(key)
        if health is None:
            health = self._targets[key] = _TargetHealth()
        return health

    def failed(self, key: tuple[str, str], retry_after: float | None = None) -> None:
        """Start or lengthen the cooldown: it doubles with each failure, `retry-after` wins."""
        health = self._get(key)
        health.failures += 1
        now = time.monotonic()
        cooldown = min(BASE_COOLDOWN * 2 ** (health.failures - 1), MAX_COOLDOWN)
        if retry_after is not None:
            cooldown = max(cooldown, min(retry_after, MAX_COOLDOWN))
        health.cool_until = now + cooldown
        health.last_failure = now
        if self.on_change is not None:
            self.on_change(key, cooldown, health.failures)

    def succeeded(self, key: tuple[str, str], first_byte_seconds: float | None) -> None:
        """Reset the cooldown and fold in a latency sample."""
        health = self._targets.get(key)
        if health is None:
            if first_byte_seconds is None:
                return
            health = self._get(key)
        if health.failures and self.on_change is not None:
            self.on_change(key, None, 0)
        health.failures = 0
        health.cool_until = 0.0
        if first_byte_seconds is not None:
            previous = health.latency
            health.latency = (
                first_byte_seconds
                if previous is None
                else previous + LATENCY_WEIGHT * (first_byte_seconds - previous)
            )

    def failed_elsewhere(self, key: tuple[str, str], seconds: float, failures: int) -> None:
        """Another replica cooled the target: cool it here as long, unless already longer."""
        health = self._get(key)
        now = time.monotonic()
        health.failures = max(health.failures, failures)
        health.cool_until = max(health.cool_until, now + min(seconds, MAX_COOLDOWN))
        health.last_failure = now

    def recovered_elsewhere(self, key: tuple[str, str]) -> None:
        """Another replica saw the target answer: end its cooldown here too."""
        health = self._targets.get(key)
        if health is not None:
            health.failures = 0
            health.cool_until = 0.0

    def cooling(self, key: tuple[str, str]) -> bool:
        """Whether the target is in its cooldown now."""
        health = self._targets.get(key)
        return health is not None and health.cool_until > time.monotonic()

    def cooling_until(self, key: tuple[str, str]) -> float:
        """When the target's cooldown ends (`time.monotonic()`; 0 if it never failed)."""
        health = self._targets.get(key)
        return health.cool_until if health is not None else 0.0

    def last_failure(self, key: tuple[str, str]) -> float:
        """When the target last failed (0 if never)."""
        health = self._targets.get(key)
        return health.last_failure if health is not None else 0.0

    def failures(self, key: tuple[str, str]) -> int:
        """Failures in a row since the target last answered."""
        health = self._targets.get(key)
        return health.failures if health is not None else 0

    def known(self) -> list[tuple[str, str]]:
        """Every target a call was made to (alias targets or not)."""
        return list(self._targets)

    def reset(self, provider: str, model: str | None = None) -> int:
        """End the cooldowns of a provider's targets (one model's when given); how many."""
        count = 0
        for (name, target_model), health in self._targets.items():
            if name == provider and (model is None or model == target_model):
                health.failures, health.cool_until = 0, 0.0
                count += 1
        return count

    def latency(self, key: tuple[str, str]) -> float | None:
        """Moving average of the time to first byte, if measured."""
        health = self._targets.get(key)
        return health.latency if health is not None else None

    def pick_fastest(self, keys: list[tuple[str, str]], rng: random.Random) -> int:
        """Index of the target with the lowest latency; unmeasured ones first, sometimes explore."""
        if rng.random() < EXPLORE_RATE:
            return rng.randrange(len(keys))
        best, best_latency = 0, float("inf")
        for index, key in enumerate(keys):
            latency = self.latency(key)
            if latency is None:
                return index
            if latency < best_latency:
                best, best_latency = index, latency
        return best
