"""Price: the cost of a usage at resolved rates, tiers, dated prices and time-of-day windows."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
import pytest

from plexus import ir
from plexus.pricing import PriceBook, Priced, PriceTable
from plexus.pricing.price import Price
from plexus.pricing.table import Period

DAY = datetime.date(2026, 6, 1)
MILLION = 1_000_000


def _price(*periods: dict[str, Any], at: float = 0.0) -> Price:
    parsed = [msgspec.convert(period, Period) for period in periods]
    return Price("m", "table", parsed, DAY, lambda: at)


def test_buckets_are_priced_apart() -> None:
    price = _price({"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75})
    usage = ir.Usage(
        input_tokens=MILLION,
        output_tokens=MILLION,
        cache_read_tokens=MILLION,
        cache_write_tokens=MILLION,
    )
    assert price.cost(usage).usd == pytest.approx(3 + 15 + 0.3 + 3.75)


def test_missing_cache_rates_cost_the_input_rate() -> None:
    price = _price({"input": 2, "output": 8})
    usage = ir.Usage(cache_read_tokens=MILLION, cache_write_tokens=MILLION)
    assert price.cost(usage) == Priced(4.0, "table")


def test_reasoning_has_its_own_rate_within_the_output() -> None:
    price = _price({"input": 1, "output": 8, "reasoning": 3})
    usage = ir.Usage(output_tokens=3 * MILLION, reasoning_tokens=MILLION)
    assert price.cost(usage).usd == pytest.approx(2 * 8 + 3)
    assert price.cost(ir.Usage(output_tokens=MILLION)).usd == pytest.approx(8)


def test_a_request_fee_is_added_once() -> None:
    price = _price({"input": 1, "output": 1, "request": 0.012})
    assert price.cost(ir.Usage()).usd == pytest.approx(0.012)


def test_tier_applies_to_every_token_once_the_whole_input_passes_it() -> None:
    # Anthropic and Google: past 200k input tokens, cached ones counted, all tokens cost more.
    price = _price(
        {
            "input": 1,
            "output": 2,
            "cache_read": 0.1,
            "tiers": [{"above": 200, "input": 2, "output": 3, "cache_read": 0.2}],
        }
    )
    at_threshold = ir.Usage(input_tokens=150, cache_read_tokens=50, output_tokens=10)
    past_it = ir.Usage(input_tokens=150, cache_read_tokens=51, output_tokens=10)
    assert price.cost(at_threshold).usd == pytest.approx((150 * 1 + 50 * 0.1 + 10 * 2) / MILLION)
    assert price.cost(past_it).usd == pytest.approx((150 * 2 + 51 * 0.2 + 10 * 3) / MILLION)


def test_the_highest_tier_reached_wins() -> None:
    tiers = [{"above": 10, "input": 2, "output": 0}, {"above": 100, "input": 5, "output": 0}]
    price = _price({"input": 1, "output": 0, "tiers": tiers})
    costs = [price.cost(ir.Usage(input_tokens=n)).usd for n in (10, 11, 101)]
    assert costs == pytest.approx([10 / MILLION, 22 / MILLION, 505 / MILLION])


@pytest.mark.parametrize(
    ("hour", "expected"),
    [(0, 1.0), (1, 2.0), (3, 2.0), (4, 1.0), (23, 3.0), (5, 1.0)],
)
def test_time_of_day_windows_replace_the_base(hour: int, expected: float) -> None:
    # DeepSeek's peak hours; a window may wrap past midnight. The later period wins.
    seconds = hour * 3600 + 1800
    price = _price(
        {"input": 1, "output": 0},
        {"input": 2, "output": 0, "window": ["01:00:00", "04:00:00"]},
        {"input": 3, "output": 0, "window": ["22:00:00", "00:30:00"]},
        at=seconds,
    )
    assert price.cost(ir.Usage(input_tokens=MILLION)).usd == expected


def test_a_dated_price_comes_into_force_on_its_day() -> None:
    clock = [datetime.datetime(2026, 6, 1, 23, 59, tzinfo=datetime.UTC).timestamp()]
    table = {
        "format": 1,
        "dataset": "t",
        "generated_at": "t",
        "license": "t",
        "units": "t",
        "vendors": [
            {
                "id": "acme",
                "name": "Acme",
                "api": "x",
                "models": [
                    {
                        "id": "m",
                        "prices": [
                            {"input": 1, "output": 0},
                            {"input": 2, "output": 0, "since": "2026-06-02"},
                            {"input": 4, "output": 0, "since": "2026-07-01"},
                        ],
                    }
                ],
            }
        ],
    }
    book = PriceBook(msgspec.convert(table, PriceTable), clock=lambda: clock[0])
    usage = ir.Usage(input_tokens=MILLION)
    assert book.cost("acme", "m", usage).usd == 1.0
    clock[0] += 120  # past midnight UTC: the cached price is resolved again
    assert book.cost("acme", "m", usage).usd == 2.0


def test_unpriced_period_and_windows_give_no_figure() -> None:
    assert _price({"unpriced": True}).cost(ir.Usage(input_tokens=5)) == Priced(None, None)
    free = _price({}).cost(ir.Usage(input_tokens=5, output_tokens=5))
    assert free == Priced(0.0, "table")
