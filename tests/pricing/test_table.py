"""The shipped price table: it loads, and it is the data of the pinned genai-prices."""

from __future__ import annotations

import datetime
from importlib.metadata import version

from plexus.pricing.table import load_table


def test_shipped_table_is_from_the_pinned_dataset() -> None:
    # A bumped genai-prices pin needs `scripts/generate_prices.py` run again.
    table = load_table()
    assert table.dataset == f"genai-prices {version('genai-prices')}"
    assert datetime.datetime.fromisoformat(table.generated_at).tzinfo is not None


def test_shipped_table_has_the_vendors_of_the_presets() -> None:
    vendors = {vendor.id: vendor for vendor in load_table().vendors}
    wanted = {"openai", "anthropic", "google", "deepseek", "groq", "cerebras", "mistral", "x-ai"}
    assert wanted | {"openrouter"} <= set(vendors)
    assert all(vendors[name].models and vendors[name].api for name in wanted)
