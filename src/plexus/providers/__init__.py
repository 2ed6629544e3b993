"""Provider quirk adapters, looked up by name (style.md rule 7)."""

from __future__ import annotations

from plexus.providers.base import PLAIN, Adapter
from plexus.providers.cerebras import CerebrasAdapter
from plexus.providers.deepseek import DeepSeekAdapter
from plexus.providers.groq import GroqAdapter
from plexus.providers.openrouter import OpenRouterAdapter
from plexus.providers.vercel import VercelAdapter

ADAPTERS: dict[str, Adapter] = {
    "deepseek": DeepSeekAdapter(),
    "deepseek-r1": DeepSeekAdapter(strip_reasoning=True),
    "groq": GroqAdapter(),
    "cerebras": CerebrasAdapter(),
    "openrouter": OpenRouterAdapter(),
    "vercel": VercelAdapter(),
}


def adapter_for(name: str | None) -> Adapter:
    """Return the adapter registered under `name`, or the plain one."""
    if name is None:
        return PLAIN
    return ADAPTERS.get(name, PLAIN)
