"""Known providers: the base URL, API type and quirk adapter a `preset:` fills in, and the
regional base URL a `vertex:` block implies."""

from __future__ import annotations

from typing import NamedTuple

from plexus.ir import ApiType


class Preset(NamedTuple):
    """Defaults for a well-known provider."""

    type: ApiType
    api_base_url: str
    adapter: str | None = None


PRESETS: dict[str, Preset] = {
    "openai": Preset("chat", "https://api.openai.com/v1"),
    "openai-responses": Preset("responses", "https://api.openai.com/v1"),
    "anthropic": Preset("messages", "https://api.anthropic.com/v1"),
    "gemini": Preset("gemini", "https://generativelanguage.googleapis.com/v1beta"),
    "deepseek": Preset("chat", "https://api.deepseek.com/v1", "deepseek"),
    "groq": Preset("chat", "https://api.groq.com/openai/v1", "groq"),
    "cerebras": Preset("chat", "https://api.cerebras.ai/v1", "cerebras"),
    "openrouter": Preset("chat", "https://openrouter.ai/api/v1", "openrouter"),
    "vercel": Preset("chat", "https://ai-gateway.vercel.sh/v1", "vercel"),
    # Self-hosted OpenAI-compatible servers at their default ports: no quirks, only config.
    "ollama": Preset("chat", "http://127.0.0.1:11434/v1"),
    "vllm": Preset("chat", "http://127.0.0.1:8000/v1"),
    "llama-cpp": Preset("chat", "http://127.0.0.1:8080/v1"),
}


def vertex_base_url(location: str) -> str:
    """Return the API base for a location: regional host, or the global one."""
    if location == "global":
        return "https://aiplatform.googleapis.com/v1"
    return f"https://{location}-aiplatform.googleapis.com/v1"
