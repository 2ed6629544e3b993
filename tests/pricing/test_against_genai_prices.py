"""The shipped table prices calls as genai-prices' own calculator does, from the same data
(issue 12): cached tokens, cache writes, reasoning, long-context tiers, DeepSeek's peak hours."""

from __future__ import annotations

import datetime
from decimal import Decimal

import genai_prices
import pytest

from plexus import ir
from plexus.pricing import PriceBook, load_table

_SMALL = ir.Usage(input_tokens=1_200, output_tokens=800, cache_read_tokens=30_000)
_WRITES = ir.Usage(
    input_tokens=5_000, output_tokens=2_000, cache_read_tokens=12_000, cache_write_tokens=4_000
)
_LONG = ir.Usage(  # over the 200k-token tier of Anthropic and Google, counting cached input
    input_tokens=150_000, output_tokens=3_000, cache_read_tokens=60_000, cache_write_tokens=1_000
)
_REASONING = ir.Usage(input_tokens=2_000, output_tokens=9_000, reasoning_tokens=6_000)

CASES = [
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("anthropic", "claude-opus-4-1"),
    ("google", "gemini-2.5-pro"),
    ("openai", "gpt-4o"),
    ("openai", "gpt-5-2025-08-07"),
    ("x-ai", "grok-4"),
    ("mistral", "mistral-large-latest"),
    ("groq", "llama-3.3-70b-versatile"),
    ("cerebras", "gpt-oss-120b"),
    ("openrouter", "anthropic/claude-sonnet-4.5"),
    ("perplexity", "sonar"),  # a fee per request on top of the tokens
    ("perplexity", "sonar-deep-research"),  # reasoning tokens at their own rate
]


def _moment(hour: int) -> datetime.datetime:
    """An hour of the day after the table was generated (no period it dropped is in force)."""
    day = datetime.datetime.fromisoformat(load_table().generated_at).date()
    return datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time(hour), datetime.UTC
    )


def _calculated(vendor: str, model: str, usage: ir.Usage, at: datetime.datetime) -> Decimal:
    theirs = genai_prices.Usage(
        input_tokens=usage.total_input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_reasoning_tokens=usage.reasoning_tokens,
    )
    price = genai_prices.calc_price(theirs, model, provider_id=vendor, genai_request_timestamp=at)
    return price.total_price


def _book_at(at: datetime.datetime) -> PriceBook:
    return PriceBook(load_table(), clock=at.timestamp)


@pytest.mark.parametrize("usage", [_SMALL, _WRITES, _LONG, _REASONING])
@pytest.mark.parametrize(("vendor", "model"), CASES)
def test_table_prices_as_the_dataset_calculator(vendor: str, model: str, usage: ir.Usage) -> None:
    at = _moment(12)
    priced = _book_at(at).cost(vendor, model, usage)
    assert priced.source == "table" and priced.usd is not None
    assert priced.usd == pytest.approx(float(_calculated(vendor, model, usage, at)), abs=1e-9)


def test_peak_hours_are_priced_as_the_dataset_calculator() -> None:
    # DeepSeek charges more from 01:00 to 04:00 and 06:00 to 10:00 UTC.
    model = "deepseek-v4-flash"
    costs = []
    for at in (_moment(2), _moment(12)):
        priced = _book_at(at).cost("deepseek", model, _WRITES)
        assert priced.usd == pytest.approx(float(_calculated("deepseek", model, _WRITES, at)))
        costs.append(priced.usd)
    assert costs[0] != costs[1]


def test_long_context_tier_costs_more_than_the_base_rate() -> None:
    book = _book_at(_moment(12))
    below = ir.Usage(input_tokens=199_000, cache_read_tokens=1_000, output_tokens=1_000)
    above = ir.Usage(input_tokens=199_000, cache_read_tokens=1_001, output_tokens=1_000)
    cheap, dear = (book.cost("google", "gemini-2.5-pro", usage).usd for usage in (below, above))
    assert cheap is not None and dear is not None and dear > cheap * 1.5
