"""Regenerate `src/plexus/pricing/prices.json` from the data of the genai-prices package (MIT).

    .venv/bin/python scripts/generate_prices.py [--output PATH] [--today YYYY-MM-DD]

genai-prices is a dev dependency pinned in pyproject.toml: bump the pin, run this, read the diff.
Only its data is used (`genai_prices.data`), never its calculator. What Plexus cannot count is
dropped: price variants chosen by request context (batch, service tier, fast mode), one-hour
cache writes (the IR does not tell them from five-minute ones), and units other than tokens and
requests (audio, image and video tokens, audio seconds, characters, pages, web searches). A
price set made only of such units is kept as `unpriced`, so the model is never taken for free.
Periods that can no longer be in force on `--today` are dropped (a later one always wins).
"""

from __future__ import annotations

import argparse
import datetime
from decimal import Decimal
from pathlib import Path

import genai_prices
import msgspec
from genai_prices import types as gp
from genai_prices.data import providers

from plexus.pricing.table import TABLE_FORMAT, Clause, ModelEntry, Period, Rates, Tier, VendorEntry

OUTPUT = Path(__file__).resolve().parents[1] / "src" / "plexus" / "pricing" / "prices.json"

# The dataset's price keys of what Plexus counts: tokens by kind, and requests (per thousand).
TOKEN_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
REASONING_KEY = "output_reasoning_mtok"
REQUEST_KEY = "requests_kcount"

GpClause = (
    gp.ClauseEquals
    | gp.ClauseStartsWith
    | gp.ClauseEndsWith
    | gp.ClauseContains
    | gp.ClauseRegex
    | gp.ClauseOr
    | gp.ClauseAnd
)
GpPrice = Decimal | gp.TieredPrices


def convert_clause(clause: GpClause) -> Clause:
    """Return the table's form of a dataset match clause (plain strings lowercased, as the
    dataset compares them; regexes kept as written)."""
    match clause:
        case gp.ClauseEquals():
            return Clause(equals=clause.equals.lower())
        case gp.ClauseStartsWith():
            return Clause(starts_with=clause.starts_with.lower())
        case gp.ClauseEndsWith():
            return Clause(ends_with=clause.ends_with.lower())
        case gp.ClauseContains():
            return Clause(contains=clause.contains.lower())
        case gp.ClauseRegex():
            return Clause(regex=clause.regex)
        case gp.ClauseOr():
            return Clause(any_of=[convert_clause(item) for item in clause.or_])
        case gp.ClauseAnd():
            return Clause(all_of=[convert_clause(item) for item in clause.and_])
    raise TypeError(f"unknown clause {clause!r}")


def _at(price: GpPrice, threshold: int | None) -> Decimal:
    """The price of one key when the input exceeds `threshold` (None: the base price)."""
    if isinstance(price, Decimal):
        return price
    found = price.base
    for tier in price.tiers:
        if threshold is not None and tier.start <= threshold:
            found = tier.price
    return found


def _rates(prices: dict[str, GpPrice], threshold: int | None) -> Rates:
    def rate(key: str, per: int = 1) -> float | None:
        return float(_at(prices[key], threshold)) / per if key in prices else None

    return Rates(
        input=rate("input_mtok"),
        output=rate("output_mtok"),
        cache_read=rate("cache_read_mtok"),
        cache_write=rate("cache_write_mtok"),
        reasoning=rate(REASONING_KEY),
        request=rate(REQUEST_KEY, per=1000),
    )


def convert_prices(model_price: gp.ModelPrice) -> Period:
    """Return one period: the countable rates, and tiers as whole rate sets per threshold."""
    prices: dict[str, GpPrice] = {
        key: value
        for key, value in model_price.__dict__.items()
        if value is not None and not key.startswith("_")
    }
    if prices and not any(key in prices for key in (*TOKEN_KEYS, REASONING_KEY)):
        return Period(unpriced=True)
    thresholds = sorted(
        {
            tier.start
            for value in prices.values()
            if isinstance(value, gp.TieredPrices)
            for tier in value.tiers
        }
    )
    tiers = [
        Tier(above=threshold, **msgspec.structs.asdict(_rates(prices, threshold)))
        for threshold in thresholds
    ]
    return Period(tiers=tiers, **msgspec.structs.asdict(_rates(prices, None)))


def _condition(
    constraint: gp.StartDateConstraint | gp.TimeOfDateConstraint | None,
) -> dict[str, object]:
    match constraint:
        case None:
            return {}
        case gp.StartDateConstraint():
            return {"since": constraint.start_date}
        case gp.TimeOfDateConstraint():
            return {"window": (_utc(constraint.start_time), _utc(constraint.end_time))}
    raise TypeError(f"unknown constraint {constraint!r}")


def _utc(moment: datetime.time) -> datetime.time:
    if moment.tzinfo is None:
        return moment
    day = datetime.datetime.combine(datetime.date(2000, 1, 1), moment)
    return day.astimezone(datetime.UTC).time()


def _always_in_force(constraint: object, today: datetime.date) -> bool:
    if constraint is None:
        return True
    return isinstance(constraint, gp.StartDateConstraint) and constraint.start_date <= today


def convert_periods(model: gp.ModelInfo, today: datetime.date) -> list[Period]:
    """Return a model's periods from the last one always in force on `today` onwards."""
    if isinstance(model.prices, gp.ModelPrice):
        return [convert_prices(model.prices)]
    conditional = list(model.prices)
    start = max(
        (
            index
            for index, item in enumerate(conditional)
            if _always_in_force(item.constraint, today)
        ),
        default=0,
    )
    periods = []
    for index, item in enumerate(conditional[start:]):
        period = convert_prices(item.prices)
        condition = (
            {}
            if index == 0 and _always_in_force(item.constraint, today)
            else _condition(item.constraint)
        )
        periods.append(msgspec.structs.replace(period, **condition))
    return periods


def convert_model(model: gp.ModelInfo, today: datetime.date) -> ModelEntry:
    """Return a model entry; the match is left out when it is the id alone."""
    match = convert_clause(model.match)
    if match == Clause(equals=model.id.lower()):
        return ModelEntry(id=model.id, prices=convert_periods(model, today))
    return ModelEntry(id=model.id, prices=convert_periods(model, today), match=match)


def convert_vendor(provider: gp.Provider, today: datetime.date) -> VendorEntry:
    """Return a vendor entry with all its models, in the dataset's order."""
    return VendorEntry(
        id=provider.id,
        name=provider.name,
        api=provider.api_pattern,
        names=convert_clause(provider.provider_match) if provider.provider_match else None,
        fallback=list(provider.fallback_model_providers or []),
        models=[convert_model(model, today) for model in provider.models],
    )


def render(vendors: list[VendorEntry], generated_at: datetime.datetime) -> str:
    """Return the table as JSON text, one model a line, so that a regeneration diffs well."""
    encode = msgspec.json.encode
    head = {
        "format": TABLE_FORMAT,
        "dataset": f"genai-prices {genai_prices.__version__}",
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "license": "data from genai-prices (github.com/pydantic/genai-prices), MIT License, "
        "Copyright (c) Pydantic Services Inc.",
        "units": "USD per million tokens; request: USD per request",
    }
    lines = [encode(head).decode()[:-1] + ',"vendors":[']
    for index, vendor in enumerate(vendors):
        header = encode(msgspec.structs.replace(vendor, models=[])).decode()
        header = header.replace(',"models":[]', "").removesuffix("}")
        models = ",\n".join(encode(model).decode() for model in vendor.models)
        closing = "]}" + ("," if index < len(vendors) - 1 else "")
        lines.append(f'{header},"models":[\n{models}\n{closing}')
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--today", type=datetime.date.fromisoformat, default=None)
    args = parser.parse_args()
    now = datetime.datetime.now(datetime.UTC)
    today = args.today or now.date()
    vendors = [convert_vendor(provider, today) for provider in providers]
    args.output.write_text(render(vendors, now))
    count = sum(len(vendor.models) for vendor in vendors)
    size = args.output.stat().st_size
    print(f"{args.output}: {len(vendors)} vendors, {count} models, {size:,} bytes")


if __name__ == "__main__":
    main()
