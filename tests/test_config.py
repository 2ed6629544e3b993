"""Config loading: interpolation, defaults, presets, and every problem reported with its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from plexus.cli import main
from plexus.config import ConfigError, load_config, parse_config
from plexus.providers import ADAPTERS

REPO = Path(__file__).resolve().parents[1]


def test_interpolation_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test")
    monkeypatch.delenv("MY_PORT", raising=False)
    config = parse_config(
        {
            "server": {"port": "${MY_PORT:-4100}"},
            "providers": {
                "p": {"type": "chat", "api_base_url": "http://x/v1", "api_key": "${MY_KEY}"}
            },
        }
    )
    assert config.server.port == 4100
    assert config.providers["p"].api_key == "sk-test"


def test_provider_with_unset_key_still_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    config = parse_config(
        {"providers": {"p": {"type": "chat", "api_base_url": "http://x", "api_key": "${NOPE_KEY}"}}}
    )
    assert config.providers["p"].api_key is None
    assert config.providers["p"].api_key_missing == "NOPE_KEY"


def test_every_problem_is_listed_with_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "server": {"port": "not-a-number"},
                "providers": {
                    "a": {"type": "soap", "api_base_url": "http://x"},
                    "b": {"type": "chat"},
                    "c": {"type": "chat", "api_base_url": "http://x", "typo": 1},
                },
                "models": {"m": {"targets": [{"provider": "zzz", "model": "x"}]}},
                "extra": {},
            }
        )
    text = "\n".join(caught.value.problems)
    assert "providers.a.type: expected one of chat, messages, responses, gemini" in text
    assert "providers.b" in text and "api_base_url" in text
    assert "providers.c" in text and "typo" in text
    assert "server.port" in text
    assert "extra: unknown section" in text
    assert len(caught.value.problems) >= 5


def test_unknown_alias_provider_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"models": {"m": {"targets": [{"provider": "zzz", "model": "x"}]}}})
    assert caught.value.problems == ["models.m.targets[0].provider: unknown provider 'zzz'"]


def test_unset_variable_outside_keys_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_HOST", raising=False)
    with pytest.raises(ConfigError) as caught:
        parse_config({"server": {"host": "${NO_HOST}"}})
    assert caught.value.problems == ["server.host: environment variable NO_HOST is not set"]


def test_preset_fills_type_and_url() -> None:
    config = parse_config({"providers": {"ds": {"preset": "deepseek", "api_key": "k"}}})
    provider = config.providers["ds"]
    assert provider.type == "chat"
    assert provider.api_base_url == "https://api.deepseek.com/v1"
    assert provider.adapter == "deepseek"


def test_shipped_config_loads_without_any_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(REPO / "config" / "plexus.yaml", ADAPTERS)
    assert {"openai", "anthropic", "gemini", "deepseek", "groq", "cerebras"} <= set(
        config.providers
    )
    assert {"openrouter", "vercel", "ollama"} <= set(config.providers)
    assert config.providers["ollama"].api_base_url == "http://127.0.0.1:11434/v1"
    assert config.models


def test_check_command_prints_summary(capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "--config", str(REPO / "config" / "plexus.yaml")])
    out = capsys.readouterr().out
    assert "providers (" in out and "anthropic: messages" in out


def test_check_command_fails_on_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("providers:\n  x: {type: nope, api_base_url: 'http://x'}\n")
    with pytest.raises(SystemExit) as caught:
        main(["check", "--config", str(path)])
    assert caught.value.code == 2
    assert "providers.x.type" in capsys.readouterr().err


def test_unknown_adapter_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {"providers": {"p": {"type": "chat", "api_base_url": "http://x", "adapter": "nope"}}},
            ADAPTERS,
        )
    assert caught.value.problems[0].startswith("providers.p.adapter: unknown adapter 'nope'")


@pytest.mark.parametrize(
    ("provider", "problem"),
    [
        ({"headers": {"x-evil": "a\r\nx-injected: b"}}, "headers.x-evil: line breaks"),
        ({"api_base_url": "https://user:pass@api.example.com/v1"}, "credentials in the URL"),
        ({"proxy": "socks5://proxy:1080"}, "proxy: expected http://"),
    ],
)
def test_provider_settings_that_cannot_work_are_refused(
    provider: dict[str, object], problem: str
) -> None:
    # Issue 10: `plexus check` accepted these and the gateway mangled or dropped them.
    raw = {"type": "chat", "api_base_url": "https://api.example.com/v1", **provider}
    with pytest.raises(ConfigError) as caught:
        parse_config({"providers": {"p": raw}})
    assert any(problem in line for line in caught.value.problems), caught.value.problems


def test_no_keys_on_a_public_address_needs_open_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 10: with no keys and a non-loopback bind, the gateway relayed every provider key.
    path = tmp_path / "open.yaml"
    path.write_text("server: {host: 0.0.0.0}\n")
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--config", str(path)])
    assert caught.value.code == 2 and "no gateway keys" in capsys.readouterr().err


def test_pricing_overrides_load_as_usd_per_million_tokens() -> None:
    pricing = {
        "my-model": {"input": 1, "output": "2.5", "cache_read": 0.1},
        "*": {"input": 0, "output": 0},
    }
    config = parse_config(
        {"providers": {"p": {"type": "chat", "api_base_url": "http://x", "pricing": pricing}}}
    )
    loaded = config.providers["p"].pricing
    assert (loaded["my-model"].input, loaded["my-model"].output) == (1.0, 2.5)
    assert (loaded["my-model"].cache_read, loaded["my-model"].cache_write) == (0.1, None)
    assert loaded["*"].input == 0.0


@pytest.mark.parametrize(
    ("price", "problem"),
    [
        ({"input": -1, "output": 1}, "pricing.m.input: Expected `float` >= 0.0"),
        ({"input": 1, "output": 1, "cache_reads": 1}, "pricing.m: Object contains unknown field"),
        ({"input": 1}, "pricing.m: Object missing required field `output`"),
        ({"input": "cheap", "output": 1}, "pricing.m.input: Expected `float`"),
        ({"input": 1, "output": float("inf")}, "pricing.m.output: expected a finite price"),
    ],
)
def test_bad_pricing_overrides_are_refused(price: dict[str, object], problem: str) -> None:
    raw = {"type": "chat", "api_base_url": "http://x", "pricing": {"m": price}}
    with pytest.raises(ConfigError) as caught:
        parse_config({"providers": {"p": raw}})
    assert any(line.startswith(f"providers.p.{problem}") for line in caught.value.problems), (
        caught.value.problems
    )


def test_the_responses_store_settings_are_checked() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"responses": {"store": True, "timeout": 0, "settle_seconds": -1}})
    assert len(caught.value.problems) == 1 and "responses" in caught.value.problems[0]
    with pytest.raises(ConfigError) as caught:
        parse_config({"responses": {"store": True}, "usage": {"database": "none"}})
    assert caught.value.problems == [
        "responses.store: needs a database, and usage.database is none"
    ]


@pytest.mark.parametrize(
    ("usage", "problem"),
    [
        ({"database": "postgress://db/usage"}, "usage.database: expected sqlite"),
        ({"database": "/var/lib/usage.db"}, "usage.database: expected sqlite"),
        ({"flush_seconds": 0}, "usage.flush_seconds: must be positive"),
        ({"retention_days": -1}, "usage.retention_days: must be 0 (kept) or more"),
        ({"buffer_rows": -5}, "usage.buffer_rows: must be 0 or more"),
    ],
)
def test_usage_settings_that_cannot_work_are_refused(
    usage: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"usage": usage})
    assert [found for found in caught.value.problems if found.startswith(problem)]


@pytest.mark.parametrize(
    "database", ["sqlite", "none", "sqlite:///tmp/u.db", "postgres://u@h/db", "postgresql://h/db"]
)
def test_every_usage_database_form_loads(database: str) -> None:
    assert parse_config({"usage": {"database": database}}).usage.database == database


@pytest.fixture(scope="module")
def module_data_dir() -> Path:
    """The data directory a gateway gets when a module-scoped fixture builds its config (as
    the end-to-end backends do), before any test's own `data_dir`."""
    return Path(parse_config({"providers": {}, "models": {}}).server.data_dir).resolve()


def test_gateways_of_module_fixtures_keep_their_data_out_of_the_clone(
    module_data_dir: Path,
) -> None:
    clone = Path(__file__).resolve().parents[1]
    assert not module_data_dir.is_relative_to(clone), module_data_dir
