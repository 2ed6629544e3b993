"""The price book: which vendor a provider is, which priced model a name is, cached.

Built once from the table and the config's providers. A provider's vendor is found once, from
its config: its base URL against the vendors' API patterns, else its preset's name, else its API
type. A model resolves, per (provider, model) and then from a dict, as the provider's `pricing:`
entry for it or for `*`, else the vendor's first matching model (then its fallback vendors'),
else the same with a compact date dashed, else, for `vendor/model` names (OpenRouter, Vercel),
the model of the vendor the prefix names; else it is unpriced.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Mapping

from plexus import ir
from plexus.config import Config, ProviderConfig
from plexus.pricing.match import Predicate, compile_clause, dash_dates
from plexus.pricing.price import UNPRICED, Clock, Price, Priced
from plexus.pricing.table import ModelEntry, Period, PriceTable, VendorEntry, load_table

# Where neither the base URL nor the preset tells: an API only one vendor serves.
_VENDOR_OF_API: dict[ir.ApiType, str] = {"messages": "anthropic", "gemini": "google"}


class _Vendor:
    """A vendor of the table, its patterns compiled; its model rules compiled on first use."""

    __slots__ = ("_models", "api", "entry", "names")

    def __init__(self, entry: VendorEntry) -> None:
        self.entry = entry
        self.api = re.compile(entry.api)
        self.names = compile_clause(entry.names) if entry.names is not None else None
        self._models: list[tuple[Predicate, ModelEntry]] | None = None

    def is_named(self, name: str) -> bool:
        """Whether a (lowercased) provider name stands for this vendor."""
        return name == self.entry.id or (self.names is not None and self.names(name))

    def find(self, name: str) -> ModelEntry | None:
        """The first of this vendor's models whose rule the lowercased name meets."""
        if self._models is None:
            self._models = [(_rule(model), model) for model in self.entry.models]
        for test, model in self._models:
            if test(name):
                return model
        return None


def _rule(model: ModelEntry) -> Predicate:
    if model.match is None:
        return model.id.lower().__eq__
    return compile_clause(model.match)


class PriceBook:
    """Prices of models at the configured providers, for one config; rebuilt on reload."""

    def __init__(
        self,
        table: PriceTable,
        providers: Mapping[str, ProviderConfig] | None = None,
        *,
        clock: Clock = time.time,
        cache_size: int = 4096,
    ) -> None:
        self._vendors = [_Vendor(entry) for entry in table.vendors]
        self._by_id = {vendor.entry.id: vendor for vendor in self._vendors}
        self._providers = dict(providers or {})
        self._vendor_of = {
            name: self._vendor_of_config(provider) for name, provider in self._providers.items()
        }
        self._clock = clock
        self._cache_size = cache_size
        self._cache: dict[tuple[str, str], Price | None] = {}
        self._day = -1

    @classmethod
    def from_config(cls, config: Config) -> PriceBook:
        """Return the book of the shipped table and the config's providers."""
        return cls(load_table(), config.providers)

    def cost(self, provider: str, model: str, usage: ir.Usage) -> Priced:
        """What a call cost: the provider's own figure, else priced by `price_for`."""
        if usage.cost is not None:
            return Priced(usage.cost, "provider")
        price = self.price_for(provider, model)
        return UNPRICED if price is None else price.cost(usage)

    def price_for(self, provider: str, model: str) -> Price | None:
        """The price of `model` (as sent upstream) at a configured provider, or at the vendor a
        provider name not in the config stands for; None: unpriced."""
        now = self._clock()
        if now // 86400 != self._day:  # a new day may bring a dated price into force
            self._cache.clear()
            self._day = int(now // 86400)
        key = (provider, model)
        try:
            return self._cache[key]
        except KeyError:
            pass
        if len(self._cache) >= self._cache_size:
            self._cache.clear()  # names from clients may be endless; resolving is cheap
        price = self._cache[key] = self._resolve(provider, model, now)
        return price

    def vendor_of(self, provider: str) -> str | None:
        """The table's vendor id of a configured provider, or of the vendor a name stands for."""
        if provider in self._vendor_of:
            return self._vendor_of[provider]
        vendor = self._named(provider)
        return vendor.entry.id if vendor is not None else None

    def _resolve(self, provider: str, model: str, now: float) -> Price | None:
        today = datetime.datetime.fromtimestamp(now, datetime.UTC).date()
        config = self._providers.get(provider)
        if config is not None:
            override = config.pricing.get(model) or config.pricing.get("*")
            if override is not None:
                period = Period(
                    input=override.input,
                    output=override.output,
                    cache_read=override.cache_read,
                    cache_write=override.cache_write,
                )
                return Price(model, "config", [period], today, self._clock)
        vendor_id = self.vendor_of(provider)
        entry = self._find(self._by_id.get(vendor_id or ""), model.lower())
        if entry is None:
            return None
        return Price(entry.id, "table", entry.prices, today, self._clock)

    def _find(self, vendor: _Vendor | None, name: str) -> ModelEntry | None:
        if vendor is not None:
            for candidate in dict.fromkeys((name, dash_dates(name))):
                entry = self._find_at(vendor, candidate)
                if entry is not None:
                    return entry
        prefix, slash, rest = name.partition("/")
        if slash:
            named = self._named(prefix)
            if named is not None and named is not vendor:
                return self._find(named, rest)
        return None

    def _find_at(self, vendor: _Vendor, name: str) -> ModelEntry | None:
        """The vendor's model, else one of a vendor whose models it also serves."""
        entry = vendor.find(name)
        for fallback in vendor.entry.fallback:
            if entry is not None:
                break
            other = self._by_id.get(fallback)
            entry = other.find(name) if other is not None else None
        return entry

    def _named(self, name: str) -> _Vendor | None:
        name = name.strip().lower()
        found = self._by_id.get(name)
        if found is None:
            found = next((vendor for vendor in self._vendors if vendor.is_named(name)), None)
        return found

    def _vendor_of_config(self, provider: ProviderConfig) -> str | None:
        for vendor in self._vendors:
            if vendor.api.match(provider.api_base_url):
                return vendor.entry.id
        named = self._named(provider.preset) if provider.preset is not None else None
        if named is not None:
            return named.entry.id
        by_type = _VENDOR_OF_API.get(provider.type)
        return by_type if by_type in self._by_id else None
