"""Presets and the adapter registry (style.md rule 7)."""

from __future__ import annotations

from plexus.config import parse_config
from plexus.presets import PRESETS
from plexus.providers import ADAPTERS, adapter_for
from plexus.providers.base import PLAIN


def test_every_preset_adapter_is_registered() -> None:
    named = {preset.adapter for preset in PRESETS.values() if preset.adapter is not None}
    assert named <= set(ADAPTERS)


def test_presets_fill_documented_base_urls() -> None:
    expected = {
        "deepseek": "https://api.deepseek.com/v1",
        "groq": "https://api.groq.com/openai/v1",
        "cerebras": "https://api.cerebras.ai/v1",
        "openrouter": "https://openrouter.ai/api/v1",
        "vercel": "https://ai-gateway.vercel.sh/v1",
    }
    raw = {name: {"preset": name, "api_key": "k"} for name in expected}
    config = parse_config({"providers": raw})
    for name, url in expected.items():
        provider = config.providers[name]
        assert (provider.type, provider.api_base_url, provider.adapter) == ("chat", url, name)


def test_plain_openai_compatible_servers_need_no_adapter() -> None:
    config = parse_config({"providers": {"local": {"preset": "llama-cpp"}}})
    assert adapter_for(config.providers["local"].adapter) is PLAIN
    assert adapter_for("no-such-adapter") is PLAIN
