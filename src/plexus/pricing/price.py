"""The price of one model at one provider, and what a call of it cost.

`Price.cost` is on the per-request path: plain float arithmetic over rates prepared when the
price was resolved, no lookup, no allocation beyond the answer.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Literal

import msgspec

from plexus import ir
from plexus.pricing.table import Period, Rates

Source = Literal["provider", "config", "table"]
Clock = Callable[[], float]


class Priced(msgspec.Struct, frozen=True, gc=False):
    """What a call cost in USD, and who said: the provider's own figure, the config's prices or
    the shipped table; `usd` None (and no source) when nobody knows: unpriced, never free."""

    usd: float | None
    source: Source | None


UNPRICED = Priced(None, None)


class _Rates:
    """USD per token of each kind, every default filled in, and the tiers above the base."""

    __slots__ = ("cache_read", "cache_write", "input", "output", "reasoning", "request", "tiers")

    def __init__(self, rates: Rates, tiers: Sequence[tuple[int, _Rates]] = ()) -> None:
        self.input = (rates.input or 0.0) / 1e6
        self.output = (rates.output or 0.0) / 1e6
        self.cache_read = self.input if rates.cache_read is None else rates.cache_read / 1e6
        self.cache_write = self.input if rates.cache_write is None else rates.cache_write / 1e6
        self.reasoning = self.output if rates.reasoning is None else rates.reasoning / 1e6
        self.request = rates.request or 0.0
        self.tiers = tuple(sorted(tiers, key=lambda tier: -tier[0]))  # highest threshold first

    def usd(self, usage: ir.Usage) -> float:
        """The cost of `usage` at these rates, or at the tier its input reaches."""
        if self.tiers:
            total = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
            for above, tier in self.tiers:
                if total > above:
                    return tier.usd(usage)
        output = usage.output_tokens * self.output
        if usage.reasoning_tokens and self.reasoning != self.output:
            reasoning = min(usage.reasoning_tokens, usage.output_tokens)
            output += reasoning * (self.reasoning - self.output)
        return (
            usage.input_tokens * self.input
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
            + output
            + self.request
        )


def _prepare(period: Period) -> _Rates | None:
    if period.unpriced:
        return None
    return _Rates(period, [(tier.above, _Rates(tier)) for tier in period.tiers])


def _seconds(moment: datetime.time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


class Price:
    """The rates of one model as resolved on one day: a base, and UTC time-of-day windows that
    replace it while they hold (DeepSeek's peak hours)."""

    __slots__ = ("_base", "_clock", "_windows", "model", "source")

    def __init__(
        self,
        model: str,
        source: Literal["config", "table"],
        periods: Sequence[Period],
        today: datetime.date,
        clock: Clock,
    ) -> None:
        self.model = model  # the table's id of the model, or the config's key
        self.source: Literal["config", "table"] = source
        self._clock = clock
        base, windows = _in_force(periods, today)
        self._base = _prepare(base)
        self._windows = tuple(
            (_seconds(start), _seconds(end), _prepare(period)) for period, (start, end) in windows
        )

    def cost(self, usage: ir.Usage) -> Priced:
        """What `usage` cost: the provider's reported figure when there is one, else priced."""
        if usage.cost is not None:
            return Priced(usage.cost, "provider")
        rates = self._windowed() if self._windows else self._base
        if rates is None:
            return UNPRICED
        return Priced(rates.usd(usage), self.source)

    def _windowed(self) -> _Rates | None:
        second = self._clock() % 86400
        for start, end, rates in self._windows:
            if start <= second < end if start <= end else second >= start or second < end:
                return rates
        return self._base


def _in_force(
    periods: Sequence[Period], today: datetime.date
) -> tuple[Period, list[tuple[Period, tuple[datetime.time, datetime.time]]]]:
    """The period in force all day `today` and the windows that override it, latest first: the
    last period in force wins, and the first one when none is (the table's rule)."""
    windows: list[tuple[Period, tuple[datetime.time, datetime.time]]] = []
    for period in reversed(periods):
        if period.window is not None:
            windows.append((period, period.window))
        elif period.since is None or period.since <= today:
            return period, windows
    return periods[0], windows
