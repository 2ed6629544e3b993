"""Vercel AI Gateway (protocols.md 5.6): like OpenRouter, a `reasoning` request object and
`reasoning_details` replayed; it has no `usage.include` switch."""

from __future__ import annotations

from plexus.providers.openrouter import OpenRouterAdapter


class VercelAdapter(OpenRouterAdapter):
    """Adapts Chat bodies for ai-gateway.vercel.sh/v1."""

    include_usage = False
