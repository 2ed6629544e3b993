"""Upstream endpoint paths and auth headers per provider type (design.md 3)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from plexus.errors import ProviderUnavailable
from plexus.routing import Target
from plexus.upstream import vertex

ANTHROPIC_VERSION = "2023-06-01"

# Client headers worth forwarding to a provider of the same family, by provider type.
_FORWARDED: dict[str, tuple[str, ...]] = {
    "messages": ("anthropic-beta", "anthropic-version"),
    "chat": ("openai-organization", "openai-project"),
    "responses": ("openai-organization", "openai-project"),
    "gemini": (),
}


def upstream_url(target: Target, stream: bool) -> str:
    """Return the URL to POST to for `target`."""
    base = target.provider.api_base_url.rstrip("/")
    match target.provider.type:
        case "chat":
            return base + "/chat/completions"
        case "messages":
            return base + "/messages"
        case "responses":
            return base + "/responses"
        case "gemini":
            model = quote(target.model, safe="")
            if target.provider.vertex is not None:
                base += vertex.model_path(target.provider.vertex, target.model)
                return base + (":streamGenerateContent?alt=sse" if stream else ":generateContent")
            if stream:
                return f"{base}/models/{model}:streamGenerateContent?alt=sse"
            return f"{base}/models/{model}:generateContent"


def upstream_headers(
    target: Target, stream: bool, client_headers: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the headers for an upstream call: auth per type, forwarded and configured ones."""
    provider = target.provider
    if provider.api_key is None and provider.api_key_missing is not None:
        raise ProviderUnavailable(
            f"provider '{target.provider_name}' has no API key: "
            f"environment variable {provider.api_key_missing} is not set",
            status=500,
            kind="api_error",
        )
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream" if stream else "application/json",
    }
    if client_headers:
        for name in _FORWARDED[provider.type]:
            value = client_headers.get(name)
            if value:
                headers[name] = value
    key = provider.api_key or ""
    match provider.type:
        case "chat" | "responses":
            if key:
                headers["authorization"] = f"Bearer {key}"
        case "messages":
            headers["x-api-key"] = key
            headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
        case "gemini" if provider.vertex is not None:
            token = key or vertex.SOURCES.token_for(provider.vertex)
            headers["authorization"] = f"Bearer {token}"
        case "gemini":
            headers["x-goog-api-key"] = key
    headers.update(provider.headers)
    return headers
