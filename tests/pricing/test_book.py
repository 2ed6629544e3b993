"""PriceBook: vendor resolution, model rules, overrides, provider-reported cost, the cache."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec

from plexus import ir
from plexus.config import parse_config
from plexus.pricing import PriceBook, Priced, PriceTable, load_table

USAGE = ir.Usage(input_tokens=1_000_000, output_tokens=1_000_000)
NOON = datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC).timestamp()

# A small table of the shipped shape, its prices easy to read: acme's models cost 1 in and 2 out.
TABLE: dict[str, Any] = {
    "format": 1,
    "dataset": "test",
    "generated_at": "2026-06-01T00:00:00+00:00",
    "license": "test",
    "units": "USD per million tokens",
    "vendors": [
        {
            "id": "acme",
            "name": "Acme",
            "api": r"https://api\.acme\.test",
            "names": {"contains": "acme"},
            "models": [
                {"id": "Rocket-1", "prices": [{"input": 1, "output": 2}]},
                {
                    "id": "rocket-2",
                    "match": {"or": [{"starts_with": "rocket-2"}, {"regex": "^r2(-|$)"}]},
                    "prices": [{"input": 10, "output": 20}],
                },
                {"id": "dated-2025-01-31", "prices": [{"input": 3, "output": 3}]},
                {"id": "free", "prices": [{}]},
                {"id": "speech", "prices": [{"unpriced": True}]},
            ],
        },
        {
            "id": "resale",
            "name": "Resale",
            "api": r"https://resale\.test",
            "fallback": ["acme"],
            "models": [{"id": "own", "prices": [{"input": 5, "output": 5}]}],
        },
        {
            "id": "router",
            "name": "Router",
            "api": r"https://(api\.)?router\.test",
            "models": [{"id": "acme/rocket-1", "prices": [{"input": 1.5, "output": 2.5}]}],
        },
    ],
}


def _book(providers: dict[str, Any] | None = None, **options: Any) -> PriceBook:
    table = msgspec.convert(TABLE, PriceTable)
    config = parse_config({"providers": providers or {}})
    return PriceBook(table, config.providers, clock=lambda: NOON, **options)


def _provider(url: str, **fields: Any) -> dict[str, Any]:
    return {"type": "chat", "api_base_url": url, **fields}


def test_vendor_is_found_by_base_url_or_not_at_all() -> None:
    book = _book(
        {
            "by-url": _provider("https://api.acme.test/v1"),
            "unknown": _provider("http://127.0.0.1:8080/v1"),
            "claude-like": _provider("https://proxy.example/v1", type="messages"),
        }
    )
    assert book.vendor_of("by-url") == "acme"
    assert book.vendor_of("unknown") is None
    assert book.vendor_of("claude-like") is None  # anthropic, were it in this table
    assert book.vendor_of("acme-eu") == "acme"  # a name not in the config: the vendor it names


def test_presets_resolve_to_the_shipped_vendors() -> None:
    presets = ["openai", "anthropic", "gemini", "deepseek", "groq", "cerebras", "openrouter"]
    raw: dict[str, dict[str, Any]] = {name: {"preset": name, "api_key": "k"} for name in presets}
    raw["vertex"] = {"vertex": {"project": "p", "location": "europe-west4"}}
    raw["proxied-groq"] = {"preset": "groq", "api_base_url": "https://llm.example/v1"}
    raw["messages-proxy"] = {"type": "messages", "api_base_url": "https://llm.example/v1"}
    raw["local"] = {"preset": "ollama"}
    book = PriceBook.from_config(parse_config({"providers": raw}))
    vendors = {name: book.vendor_of(name) for name in raw}
    assert vendors == {
        "openai": "openai",
        "anthropic": "anthropic",
        "gemini": "google",
        "deepseek": "deepseek",
        "groq": "groq",
        "cerebras": "cerebras",
        "openrouter": "openrouter",
        "vertex": "google",
        "proxied-groq": "groq",
        "messages-proxy": "anthropic",
        "local": None,
    }


def test_model_rules_exact_prefix_regex_and_case() -> None:
    book = _book({"acme": _provider("https://api.acme.test")})
    assert book.cost("acme", "ROCKET-1", USAGE) == Priced(3.0, "table")
    assert book.cost("acme", "rocket-2-mini", USAGE) == Priced(30.0, "table")
    assert book.cost("acme", "r2-fast", USAGE) == Priced(30.0, "table")
    assert book.cost("acme", "rocket-10", USAGE) == Priced(None, None)


def test_compact_dates_are_dashed_when_nothing_else_matches() -> None:
    book = _book({"acme": _provider("https://api.acme.test")})
    assert book.cost("acme", "dated-20250131", USAGE) == Priced(6.0, "table")
    assert book.cost("acme", "dated-20250132", USAGE) == Priced(None, None)


def test_a_vendor_serves_its_fallback_vendors_models() -> None:
    book = _book({"resale": _provider("https://resale.test")})
    assert book.cost("resale", "own", USAGE).usd == 10.0
    assert book.cost("resale", "rocket-1", USAGE).usd == 3.0


def test_vendor_prefixed_names_are_priced_at_that_vendor() -> None:
    book = _book(
        {"router": _provider("https://router.test/v1"), "gateway": _provider("https://gw.test")}
    )
    assert book.cost("router", "acme/rocket-1", USAGE).usd == 4.0  # the router's own price
    assert book.cost("router", "acme/rocket-2", USAGE).usd == 30.0  # not its own: acme's
    assert book.cost("gateway", "acme/rocket-1", USAGE).usd == 3.0
    assert book.cost("gateway", "nobody/rocket-1", USAGE) == Priced(None, None)


def test_shipped_table_prices_openrouter_and_vercel_names() -> None:
    book = PriceBook.from_config(
        parse_config(
            {"providers": {p: {"preset": p, "api_key": "k"} for p in ("openrouter", "vercel")}}
        )
    )
    openrouter = book.price_for("openrouter", "anthropic/claude-sonnet-4.5")
    vercel = book.price_for("vercel", "anthropic/claude-sonnet-4.5")
    assert openrouter is not None and openrouter.model == "anthropic/claude-sonnet-4.5"
    assert vercel is not None and vercel.model == "claude-sonnet-4-5"


def test_config_overrides_win_over_the_table() -> None:
    pricing = {"rocket-1": {"input": 0.5, "output": 0.5}, "*": {"input": 0, "output": 0}}
    book = _book({"acme": _provider("https://api.acme.test", pricing=pricing)})
    assert book.cost("acme", "rocket-1", USAGE) == Priced(1.0, "config")
    assert book.cost("acme", "rocket-2", USAGE) == Priced(0.0, "config")
    assert book.cost("acme", "anything", USAGE) == Priced(0.0, "config")


def test_override_cache_rates_default_to_the_input_rate() -> None:
    pricing = {"m": {"input": 2, "output": 4, "cache_write": 3}}
    book = _book({"self": _provider("http://127.0.0.1:1/v1", pricing=pricing)})
    usage = ir.Usage(cache_read_tokens=1_000_000, cache_write_tokens=1_000_000)
    assert book.cost("self", "m", usage) == Priced(5.0, "config")


def test_provider_reported_cost_wins_over_config_and_table() -> None:
    pricing = {"rocket-1": {"input": 9, "output": 9}}
    book = _book({"acme": _provider("https://api.acme.test", pricing=pricing)})
    reported = ir.Usage(input_tokens=10, output_tokens=10, cost=0.0042)
    assert book.cost("acme", "rocket-1", reported) == Priced(0.0042, "provider")
    assert book.cost("acme", "unknown", reported) == Priced(0.0042, "provider")
    price = book.price_for("acme", "rocket-1")
    assert price is not None and price.cost(reported) == Priced(0.0042, "provider")


def test_unknown_is_unpriced_never_free() -> None:
    book = _book({"acme": _provider("https://api.acme.test"), "local": _provider("http://x")})
    assert book.price_for("acme", "unknown") is None
    assert book.cost("local", "llama", USAGE) == Priced(None, None)
    assert book.cost("nobody", "rocket-1", USAGE) == Priced(None, None)
    assert book.cost("acme", "speech", USAGE) == Priced(None, None)  # priced in audio only
    assert book.cost("acme", "free", USAGE) == Priced(0.0, "table")  # free says so itself


def test_a_full_cache_starts_again_and_keeps_answering() -> None:
    book = _book({"acme": _provider("https://api.acme.test")}, cache_size=2)
    for round_ in range(3):
        for model in ("rocket-1", "rocket-2", "nope", "r2"):
            assert (book.price_for("acme", model) is None) == (model == "nope"), round_


def test_shipped_table_prices_a_known_model() -> None:
    book = PriceBook(load_table())
    assert book.cost("anthropic", "claude-3-haiku-20240307", USAGE) == Priced(1.5, "table")
