"""Keys' limits in the config: what loads, and every problem named by its path."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import yaml

from plexus.config import ConfigError, parse_config

PROVIDERS = {"p": {"type": "chat", "api_base_url": "http://x/v1", "models": ["m1"]}}
MODELS = {"coder": {"targets": [{"provider": "p", "model": "m"}]}}


def _parse(text: str) -> Any:
    return parse_config({"providers": PROVIDERS, "models": MODELS, **yaml.safe_load(text)})


def test_a_key_with_every_limit_loads() -> None:
    config = _parse(
        """
        keys:
          alice:
            secret: s
            models: [coder, m1, p/other, "gpt-4*", "p/*"]
            rpm: 60
            tpm: 10000
            max_parallel: 4
            budget: {usd: 25, period: week}
            expires: 2030-01-01
            disabled: true
        """
    )
    key = config.keys["alice"]
    assert key.models == ["coder", "m1", "p/other", "gpt-4*", "p/*"]
    assert (key.rpm, key.tpm, key.max_parallel, key.disabled) == (60, 10000, 4, True)
    assert key.budget is not None
    assert (key.budget.usd, key.budget.period, key.budget.warn_at) == (25, "week", 0.8)
    assert key.expires == datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2030-01-01", datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)),
        ('"2030-01-01"', datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)),
        ("2030-01-01T10:30:00", datetime.datetime(2030, 1, 1, 10, 30, tzinfo=datetime.UTC)),
        (
            "2030-01-01T10:30:00+02:00",
            datetime.datetime(2030, 1, 1, 8, 30, tzinfo=datetime.UTC),
        ),
    ],
)
def test_expiry_is_utc_unless_it_says(written: str, expected: datetime.datetime) -> None:
    config = _parse(f"keys: {{a: {{secret: s, expires: {written}}}}}")
    assert config.keys["a"].expires == expected


def test_alias_and_provider_limits_load() -> None:
    config = parse_config(
        {
            "providers": {"p": {**PROVIDERS["p"], "limits": {"rpm": 500, "max_parallel": 8}}},
            "models": {"coder": {**MODELS["coder"], "limits": {"tpm": 90000}}},
        }
    )
    provider_limits = config.providers["p"].limits
    alias_limits = config.models["coder"].limits
    assert provider_limits is not None and alias_limits is not None
    assert (provider_limits.rpm, provider_limits.tpm, provider_limits.max_parallel) == (
        500,
        None,
        8,
    )
    assert alias_limits.tpm == 90000


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("{rpm: 0}", "keys.a.rpm: Expected `int` >= 1"),
        ("{tpm: many}", "keys.a.tpm: Expected `int | null`, got `str`"),
        ("{budget: {usd: 5, period: year}}", "keys.a.budget.period: Invalid enum value 'year'"),
        ("{budget: {usd: -1}}", "keys.a.budget.usd: Expected `float` >= 0.0"),
        ("{budget: {usd: 1, warn_at: 2}}", "keys.a.budget.warn_at: Expected `float` <= 1.0"),
        ("{expires: someday}", "keys.a.expires: Invalid RFC3339 encoded datetime"),
        ("{models: [coder, typo]}", "keys.a.models[1]: no alias, provider or model 'typo'"),
        ("{models: [q/x]}", "keys.a.models[0]: no alias, provider or model 'q/x'"),
        ("{models: ['']}", "keys.a.models[0]: expected a model name or pattern"),
    ],
)
def test_a_limit_problem_is_named_by_its_path(key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(f"keys: {{a: {key}}}")
    assert caught.value.problems == [problem]


def test_patterns_and_provider_names_need_no_exact_match() -> None:
    config = _parse("keys: {a: {models: ['nothing-*', 'p/anything', m1]}}")
    assert config.keys["a"].models == ["nothing-*", "p/anything", "m1"]


def test_alias_limits_are_checked() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"providers": PROVIDERS, "models": {"c": {**MODELS["coder"], "limits": 3}}})
    assert caught.value.problems == ["models.c.limits: Expected `object | null`, got `int`"]
