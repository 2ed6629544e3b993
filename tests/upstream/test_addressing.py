"""Upstream URLs and headers, read from each provider protocol's transport (design.md 3)."""

from __future__ import annotations

from typing import Any

import pytest

from plexus.config import ProviderConfig, parse_config
from plexus.errors import ProviderUnavailable
from plexus.upstream.addressing import count_tokens_url, upstream_headers, upstream_url


def _provider(**fields: Any) -> ProviderConfig:
    return parse_config({"providers": {"p": fields}}).providers["p"]


@pytest.mark.parametrize(
    ("api", "stream", "url"),
    [
        ("chat", False, "http://h/v1/chat/completions"),
        ("chat", True, "http://h/v1/chat/completions"),
        ("messages", True, "http://h/v1/messages"),
        ("responses", False, "http://h/v1/responses"),
        ("gemini", False, "http://h/v1/models/a%2Fb:generateContent"),
        ("gemini", True, "http://h/v1/models/a%2Fb:streamGenerateContent?alt=sse"),
    ],
)
def test_url_per_protocol(api: str, stream: bool, url: str) -> None:
    provider = _provider(type=api, api_base_url="http://h/v1/")
    assert upstream_url(provider, "a/b", stream) == url


def test_vertex_url_puts_the_publisher_model_path_before_the_action() -> None:
    provider = _provider(vertex={"project": "p 1", "location": "europe-west4"}, api_key="t")
    assert upstream_url(provider, "models/gemini-2.5-pro", True) == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/p%201/locations/"
        "europe-west4/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    )


@pytest.mark.parametrize(
    ("api", "url"),
    [
        ("messages", "http://h/v1/messages/count_tokens"),
        ("responses", "http://h/v1/responses/input_tokens"),
        ("gemini", "http://h/v1/models/m:countTokens"),
        ("chat", None),
    ],
)
def test_token_counters_per_protocol(api: str, url: str | None) -> None:
    assert count_tokens_url(_provider(type=api, api_base_url="http://h/v1"), "m") == url


@pytest.mark.parametrize(
    ("api", "auth"),
    [
        ("chat", {"authorization": "Bearer k"}),
        ("responses", {"authorization": "Bearer k"}),
        ("messages", {"x-api-key": "k", "anthropic-version": "2023-06-01"}),
        ("gemini", {"x-goog-api-key": "k"}),
    ],
)
async def test_auth_headers_per_protocol(api: str, auth: dict[str, str]) -> None:
    provider = _provider(type=api, api_base_url="http://h", api_key="k")
    headers = await upstream_headers("p", provider, stream=True)
    assert headers == {"content-type": "application/json", "accept": "text/event-stream"} | auth


async def test_client_headers_forwarded_only_to_their_own_family() -> None:
    client = {"anthropic-beta": "b1", "anthropic-version": "2024-01-01", "openai-project": "x"}
    messages = _provider(type="messages", api_base_url="http://h", api_key="k")
    headers = await upstream_headers("p", messages, False, client)
    assert headers["anthropic-beta"] == "b1" and headers["anthropic-version"] == "2024-01-01"
    assert "openai-project" not in headers
    chat = _provider(type="chat", api_base_url="http://h", api_key="k")
    assert "anthropic-beta" not in await upstream_headers("p", chat, False, client)


async def test_configured_headers_win_and_no_key_sends_no_auth() -> None:
    provider = _provider(
        type="messages", api_base_url="http://h", headers={"anthropic-version": "2025-05-01"}
    )
    headers = await upstream_headers("p", provider, False)
    assert headers["anthropic-version"] == "2025-05-01" and "x-api-key" not in headers


async def test_unset_key_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    provider = _provider(type="chat", api_base_url="http://h", api_key="${NO_SUCH_KEY}")
    with pytest.raises(ProviderUnavailable, match="NO_SUCH_KEY"):
        await upstream_headers("p", provider, False)


def test_a_query_string_in_the_base_url_is_kept() -> None:
    # Azure OpenAI's base URL carries ?api-version=: it was mangled into the path.
    azure = _provider(
        type="chat", api_base_url="https://x.openai.azure.com/openai/d/gpt?api-version=1"
    )
    assert upstream_url(azure, "m", False) == (
        "https://x.openai.azure.com/openai/d/gpt/chat/completions?api-version=1"
    )
    gemini = _provider(type="gemini", api_base_url="http://h/v1beta?key=k")
    assert upstream_url(gemini, "m", True) == (
        "http://h/v1beta/models/m:streamGenerateContent?key=k&alt=sse"
    )


async def test_billing_headers_are_forwarded_only_when_the_provider_opts_in() -> None:
    # Issue 10: a client could pick which organization of the operator's key is billed.
    client = {"openai-organization": "org-client", "openai-project": "proj-client"}
    plain = _provider(type="chat", api_base_url="http://h", api_key="k")
    assert "openai-organization" not in await upstream_headers("p", plain, False, client)
    opted = _provider(
        type="chat", api_base_url="http://h", api_key="k", forward_headers=["OpenAI-Organization"]
    )
    headers = await upstream_headers("p", opted, False, client)
    assert headers["openai-organization"] == "org-client" and "openai-project" not in headers
