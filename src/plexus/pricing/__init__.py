"""What a call cost: the price table shipped in the package (`prices.json`, generated from the
genai-prices dataset by `scripts/generate_prices.py`) and the provider-reported figure."""

from plexus.pricing.table import PriceTable, load_table

__all__ = ["PriceTable", "load_table"]
