"""What a call cost: the provider's own figure, else the config's `pricing:`, else the price
table shipped in the package (`prices.json`, generated from the genai-prices dataset by
`scripts/generate_prices.py`); a model none of them prices is unpriced, never free."""

from plexus.pricing.book import PriceBook
from plexus.pricing.price import Price, Priced
from plexus.pricing.table import PriceTable, load_table

__all__ = ["Price", "PriceBook", "PriceTable", "Priced", "load_table"]
