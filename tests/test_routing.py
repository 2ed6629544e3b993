"""Model resolution: aliases, provider/model, listed models, selectors, unknown names."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from plexus.config import parse_config
from plexus.errors import NotFound
from plexus.routing import Router

CONFIG = {
    "providers": {
        "a": {"type": "chat", "api_base_url": "http://a/v1", "models": ["listed-a"]},
        "b": {"type": "messages", "api_base_url": "http://b/v1"},
        "c": {"type": "gemini", "api_base_url": "http://c/v1beta"},
    },
    "models": {
        "mix": {
            "targets": [
                {"provider": "a", "model": "a-1"},
                {"provider": "b", "model": "b-1"},
                {"provider": "c", "model": "c-1"},
            ]
        },
        "chain": {
            "selector": "in_order",
            "targets": [{"provider": "b", "model": "b-1"}, {"provider": "a", "model": "a-1"}],
        },
        "heavy": {
            "selector": "weighted",
            "targets": [
                {"provider": "a", "model": "a-1", "weight": 9},
                {"provider": "b", "model": "b-1", "weight": 1},
            ],
        },
    },
}


def make_router(seed: int = 7) -> Router:
    return Router(parse_config(CONFIG), random.Random(seed))


def test_alias_picks_every_target_with_a_spread() -> None:
    router = make_router()
    picks = Counter(router.resolve("mix")[0].provider_name for _ in range(3000))
    assert set(picks) == {"a", "b", "c"}
    assert min(picks.values()) > 800  # uniform would be 1000 each


def test_alias_returns_all_targets_for_failover() -> None:
    targets = make_router().resolve("mix")
    assert sorted(t.provider_name for t in targets) == ["a", "b", "c"]


def test_in_order_keeps_the_chain() -> None:
    assert [t.provider_name for t in make_router().resolve("chain")] == ["b", "a"]


def test_weighted_follows_weights() -> None:
    router = make_router()
    picks = Counter(router.resolve("heavy")[0].provider_name for _ in range(2000))
    assert 1650 < picks["a"] < 1950


def test_provider_slash_model_uses_the_providers_slug() -> None:
    (target,) = make_router().resolve("a/listed-a")
    assert target.provider_name == "a" and target.model == "listed-a"


def test_direct_addressing_reaches_listed_models_unless_told_otherwise() -> None:
    # Issue 10: any gateway key reached any provider with any slug through provider/anything.
    with pytest.raises(NotFound):
        make_router().resolve("b/claude-x")
    anything = Router(parse_config({**CONFIG, "server": {"direct_models": "any"}}))
    (target,) = anything.resolve("b/claude-x")
    assert target.provider_name == "b" and target.model == "claude-x"
    nothing = Router(parse_config({**CONFIG, "server": {"direct_models": "none"}}))
    with pytest.raises(NotFound):
        nothing.resolve("a/listed-a")
    assert nothing.resolve("listed-a")[0].provider_name == "a"  # a listed name still works


def test_model_listed_under_a_provider() -> None:
    (target,) = make_router().resolve("listed-a")
    assert target.provider_name == "a" and target.model == "listed-a"


def test_alias_maps_to_the_provider_slug() -> None:
    assert {t.model for t in make_router().resolve("mix")} == {"a-1", "b-1", "c-1"}


@pytest.mark.parametrize("name", ["nope", "zzz/model", "a/", "/x"])
def test_unknown_model_is_not_found(name: str) -> None:
    with pytest.raises(NotFound):
        make_router().resolve(name)


def test_models_lists_aliases_and_listed_models() -> None:
    entries = {(e.id, e.owned_by) for e in make_router().models()}
    assert ("mix", "plexus") in entries
    assert ("listed-a", "a") in entries
    assert ("a/listed-a", "a") in entries
