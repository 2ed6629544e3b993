"""Where an upstream call goes and what it carries: URL, auth and forwarded headers, all read
from the provider protocol's `Transport` (design.md 3)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from plexus.config import ProviderConfig
from plexus.errors import ProviderUnavailable
from plexus.protocols import Transport, codec_for
from plexus.upstream import vertex


def upstream_url(provider: ProviderConfig, model: str, stream: bool) -> str:
    """Return the URL to POST a generation to."""
    transport = codec_for(provider.type).TRANSPORT
    return _url(
        provider, model, transport.upstream_stream_path if stream else transport.upstream_path
    )


def count_tokens_url(provider: ProviderConfig, model: str) -> str | None:
    """Return the URL of the provider's own token counter, if its protocol has one."""
    path = codec_for(provider.type).TRANSPORT.upstream_count_tokens_path
    return None if path is None else _url(provider, model, path)


def embeddings_url(provider: ProviderConfig, model: str, batched: bool) -> str | None:
    """Return the URL to POST embeddings to (its batch path for a list of inputs, when the
    protocol has one), or None when the provider's protocol has no embeddings."""
    transport = codec_for(provider.type).TRANSPORT
    path = transport.upstream_embeddings_path
    if batched and transport.upstream_batch_embeddings_path is not None:
        path = transport.upstream_batch_embeddings_path
    return None if path is None else _url(provider, model, path)


def completions_url(provider: ProviderConfig, model: str) -> str | None:
    """Return the URL of the provider's legacy text completions, if its protocol has them."""
    path = codec_for(provider.type).TRANSPORT.upstream_completions_path
    return None if path is None else _url(provider, model, path)


def _url(provider: ProviderConfig, model: str, path: str) -> str:
    transport = codec_for(provider.type).TRANSPORT
    if not transport.model_in_url:
        return _join(provider.api_base_url, path)
    if provider.vertex is not None:
        return _join(provider.api_base_url, vertex.model_path(provider.vertex, model) + path)
    model_path = transport.upstream_model_path.format(model=quote(model, safe=""))
    return _join(provider.api_base_url, model_path + path)


def _join(base: str, path: str) -> str:
    """`base` with `path` appended to its path; a query string in either is kept (Azure
    OpenAI's base URL carries `?api-version=`, Gemini's stream path `?alt=sse`)."""
    base, _, base_query = base.partition("?")
    path, _, path_query = path.partition("?")
    query = "&".join(part for part in (base_query, path_query) if part)
    return base.rstrip("/") + path + ("?" + query if query else "")


async def upstream_headers(
    provider_name: str,
    provider: ProviderConfig,
    stream: bool,
    client_headers: Mapping[str, str] | None = None,
    trace: tuple[tuple[str, str], ...] = (),
) -> dict[str, str]:
    """Return the headers of an upstream call: auth by the provider's protocol (or its Vertex
    credentials), client headers a same-API provider takes, the trace context (`trace`:
    the request's `ClientRequest.trace_headers`), then the configured ones."""
    if provider.api_key is None and provider.api_key_missing is not None:
        raise ProviderUnavailable(
            f"provider '{provider_name}' has no API key: "
            f"environment variable {provider.api_key_missing} is not set",
            status=500,
            kind="api_error",
        )
    transport = codec_for(provider.type).TRANSPORT
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream" if stream else "application/json",
    }
    if client_headers:
        _forward(headers, transport, provider, client_headers)
    key = provider.api_key or ""
    if provider.vertex is not None:
        token = key or await vertex.SOURCES.token_for(provider.vertex)
        headers["authorization"] = f"Bearer {token}"
    elif key:
        headers[transport.auth_header] = transport.auth_prefix + key
    for name, value in transport.default_headers:
        headers.setdefault(name, value)
    headers.update(trace)
    headers.update(provider.headers)
    return headers


def _forward(
    headers: dict[str, str],
    transport: Transport,
    provider: ProviderConfig,
    client: Mapping[str, str],
) -> None:
    """Client headers the protocol always passes on, and those the operator opted into."""
    for name in (*transport.forwarded_headers, *provider.forward_headers):
        value = client.get(name.lower())
        if value:
            headers[name.lower()] = value
