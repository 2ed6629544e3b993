"""The route table built from the protocols' transports."""

from __future__ import annotations

import pytest

from plexus.routes import Route, RouteTable

ROUTES = RouteTable()


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/v1/chat/completions", Route("generate", "chat")),
        ("POST", "/v1/messages", Route("generate", "messages")),
        ("POST", "/v1/messages/count_tokens", Route("count_tokens", "messages")),
        ("POST", "/v1/embeddings", Route("embeddings", "chat")),
        ("POST", "/v1/completions", Route("completions", "chat")),
        ("POST", "/v1/responses", Route("generate", "responses")),
        (
            "POST",
            "/v1beta/models/gemini-2.5-flash:generateContent",
            Route("generate", "gemini", "gemini-2.5-flash", False),
        ),
        (
            "POST",
            "/v1beta/models/tunedModels/x:streamGenerateContent",
            Route("generate", "gemini", "tunedModels/x", True),
        ),
        (  # google-genai 3 defaults to API version v1
            "POST",
            "/v1/models/gemini-2.5-flash:streamGenerateContent",
            Route("generate", "gemini", "gemini-2.5-flash", True),
        ),
        ("GET", "/v1/models", Route("models", "chat")),
        ("GET", "/models", Route("models", "chat")),
        ("GET", "/v1/models/a/b", Route("models", "chat", "a/b")),
        # The server has percent-decoded the path once; a second decode turned %252F into /.
        ("GET", "/v1/models/a%2Fb", Route("models", "chat", "a%2Fb")),
        (
            "POST",
            "/v1beta/models/odd%2Fname:generateContent",
            Route("generate", "gemini", "odd%2Fname", False),
        ),
        ("GET", "/health", Route("health", "chat")),
    ],
)
def test_known_routes_match(method: str, path: str, expected: Route) -> None:
    assert ROUTES.match(method, path) == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/chat/completions"),
        ("POST", "/v1/chat/completion"),
        ("POST", "/v1beta/models/m:countTokens"),
        ("POST", "/v1beta/models/:generateContent"),
        ("POST", "/v1beta/models/no-action"),
        ("POST", "/health"),
    ],
)
def test_unknown_routes_do_not_match(method: str, path: str) -> None:
    assert ROUTES.match(method, path) is None


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/v1/messages/batches", "messages"),
        ("/v1beta/models/m:countTokens", "gemini"),
        ("/v1/responses/resp_1", "responses"),
        ("/v1/embeddings", "chat"),
        ("/nothing", "chat"),
    ],
)
def test_a_miss_answers_in_the_format_its_path_suggests(path: str, api: str) -> None:
    assert ROUTES.error_api(path) == api


def test_only_health_is_open() -> None:
    assert not Route("health", "chat").authenticated
    assert all(Route(kind, "chat").authenticated for kind in ("generate", "models"))
