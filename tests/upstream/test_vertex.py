"""Vertex AI behind the gemini type: URL from project and location, Bearer from `api_key` or
from google-auth credentials (faked here: tests never reach Google)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from plexus.config import ConfigError, VertexConfig, parse_config
from plexus.errors import ProviderUnavailable
from plexus.upstream import vertex
from tests.conftest import run_gateway
from tests.providers.vendor import openai_client

ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Hola"}]},
                    "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 2, "totalTokenCount": 10},
    "modelVersion": "gemini-2.5-flash",
}  # fmt: skip


class FakeCredentials:
    """The part of google-auth's Credentials that TokenSource uses."""

    def __init__(self, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.token: str | None = None
        self.expiry: datetime | None = None
        self.lifetime = lifetime
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = f"ya29.token-{self.refreshes}"
        self.expiry = datetime.now(UTC).replace(tzinfo=None) + self.lifetime


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCredentials]:
    """Fake credentials behind a fresh token cache; the file name must reach the loader."""
    fake = FakeCredentials()
    loaded: list[str | None] = []

    def load(path: str | None) -> FakeCredentials:
        loaded.append(path)
        return fake

    monkeypatch.setattr(vertex, "SOURCES", vertex.TokenSources())
    monkeypatch.setattr(vertex, "load_credentials", load)
    monkeypatch.setattr(vertex, "make_request", lambda: object())
    yield fake
    assert set(loaded) <= {"/secrets/sa.json"}


@asynccontextmanager
async def vertex_mock(seen: list[tuple[str, str, str]]) -> AsyncIterator[str]:
    """A Vertex AI generateContent endpoint; records (path, query, authorization)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append((request.path, request.query_string, request.headers["Authorization"]))
        if not request.path.endswith((":generateContent", ":streamGenerateContent")):
            return web.json_response({"error": {"code": 404, "message": "no"}}, status=404)
        if request.path.endswith(":generateContent"):
            return web.json_response(ANSWER)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(f"data: {json.dumps(ANSWER)}\r\n\r\n".encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}/v1"
    finally:
        await server.close()


def vertex_config(base: str, **provider: Any) -> Any:
    vertex_block = {"project": "my-proj", "location": "europe-west4"}
    return parse_config(
        {
            "providers": {"vx": {"api_base_url": base, "vertex": vertex_block, **provider}},
            "models": {"m": {"targets": [{"provider": "vx", "model": "gemini-2.5-flash"}]}},
        }
    )


async def test_bearer_from_api_key_and_regional_path() -> None:
    seen: list[tuple[str, str, str]] = []
    async with vertex_mock(seen) as base, run_gateway(vertex_config(base, api_key="tok")) as url:
        client = openai_client(url)
        answer = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Hi"}]
        )
        assert answer.choices[0].message.content == "Hola"
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        text = "".join(
            [part.choices[0].delta.content or "" async for part in stream if part.choices]
        )
    assert text == "Hola"
    model_path = "/v1/projects/my-proj/locations/europe-west4/publishers/google/models/"
    assert seen[0] == (model_path + "gemini-2.5-flash:generateContent", "", "Bearer tok")
    assert seen[1] == (
        model_path + "gemini-2.5-flash:streamGenerateContent",
        "alt=sse",
        "Bearer tok",
    )


async def test_bearer_from_service_account(credentials: FakeCredentials) -> None:
    seen: list[tuple[str, str, str]] = []
    config_extra = {"vertex": {"project": "p", "location": "global",
                               "credentials": "/secrets/sa.json"}}  # fmt: skip
    async with vertex_mock(seen) as base, run_gateway(vertex_config(base, **config_extra)) as url:
        for _ in range(2):
            await openai_client(url).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "Hi"}]
            )
    assert [auth for _path, _query, auth in seen] == ["Bearer ya29.token-1"] * 2
    assert seen[0][0].startswith("/v1/projects/p/locations/global/publishers/google/models/")
    assert credentials.refreshes == 1


def test_config_fills_type_and_regional_base() -> None:
    config = parse_config(
        {"providers": {"vx": {"vertex": {"project": "p", "location": "us-east5"}}}}
    )
    provider = config.providers["vx"]
    assert provider.type == "gemini"
    assert provider.api_base_url == "https://us-east5-aiplatform.googleapis.com/v1"
    global_config = parse_config({"providers": {"vx": {"vertex": {"project": "p"}}}})
    assert global_config.providers["vx"].api_base_url == "https://aiplatform.googleapis.com/v1"


def test_config_rejects_vertex_on_other_types() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"providers": {"vx": {"type": "chat", "vertex": {"project": "p"}}}})
    assert caught.value.problems == [
        "providers.vx.vertex: only a provider of type gemini can use Vertex AI"
    ]


def test_token_is_refreshed_ahead_of_expiry() -> None:
    pending: list[Callable[[], None]] = []
    fake = FakeCredentials(lifetime=timedelta(seconds=120))  # inside the refresh-ahead window
    source = vertex.TokenSource(fake, lambda: object(), spawn=pending.append)
    assert source.token() == "ya29.token-1"  # none yet: fetched in line
    assert source.token() == "ya29.token-1"  # still valid: handed out, refresh started
    assert source.token() == "ya29.token-1"  # one refresh at a time
    assert len(pending) == 1 and fake.refreshes == 1
    pending.pop()()
    assert source.token() == "ya29.token-2"


def test_expired_token_is_refreshed_in_line() -> None:
    fake = FakeCredentials(lifetime=timedelta(seconds=-1))
    source = vertex.TokenSource(fake, lambda: object(), spawn=lambda work: None)
    assert source.token() == "ya29.token-1"
    assert source.token() == "ya29.token-2"


def test_refresh_failure_is_a_provider_error() -> None:
    from google.auth.exceptions import RefreshError

    class Broken(FakeCredentials):
        def refresh(self, request: Any) -> None:
            raise RefreshError("invalid_grant")  # type: ignore[no-untyped-call]

    with pytest.raises(ProviderUnavailable, match="Vertex AI access token: invalid_grant"):
        vertex.TokenSource(Broken(), lambda: object()).token()


def test_missing_credentials_file_is_a_provider_error() -> None:
    with pytest.raises(ProviderUnavailable, match="cannot load Google credentials"):
        vertex.load_credentials("/nonexistent/sa.json")


async def test_first_token_is_fetched_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 9: the first fetch was a blocking call on the event loop, freezing every request.
    release = threading.Event()

    class Slow(FakeCredentials):
        def refresh(self, request: Any) -> None:
            release.wait(5)
            super().refresh(request)

    monkeypatch.setattr(vertex, "SOURCES", vertex.TokenSources())
    monkeypatch.setattr(vertex, "load_credentials", lambda path: Slow())
    monkeypatch.setattr(vertex, "make_request", lambda: object())
    config = VertexConfig(project="p")
    fetching = asyncio.create_task(vertex.SOURCES.token_for(config))
    await asyncio.sleep(0.05)  # the loop keeps running while the token is fetched
    assert not fetching.done()
    release.set()
    assert await fetching == "ya29.token-1"
    assert await vertex.SOURCES.token_for(config) == "ya29.token-1"  # cached: no thread
