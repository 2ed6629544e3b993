"""Image URLs are fetched and inlined for Gemini, which cannot fetch them itself."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from aiohttp import web

from plexus.errors import UpstreamUnreachable
from plexus.upstream import httpclient
from plexus.upstream.client import Upstream
from plexus.upstream.fetch import fetch
from tests.clients import PIXEL_PNG
from tests.conftest import Upstreams, run_gateway, serve_app


@pytest.fixture
async def image_host() -> AsyncIterator[str]:
    async def pixel(request: web.Request) -> web.Response:
        return web.Response(body=base64.b64decode(PIXEL_PNG), content_type="image/png")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/pixel.png", pixel)
    app.router.add_get("/page.html", page)
    async with serve_app(app) as url:
        yield url


@pytest.fixture
async def media_gateway(upstreams: Upstreams) -> AsyncIterator[str]:
    """A gateway allowed to fetch images from loopback, where the test's image host lives."""
    config = upstreams.config({"server": {"media_private_hosts": True}})
    async with run_gateway(config) as url:
        yield url


def ask_about(url: str) -> Any:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


async def test_image_url_is_inlined_for_gemini(
    media_gateway: str, upstreams: Upstreams, image_host: str
) -> None:
    client = openai.AsyncOpenAI(base_url=media_gateway + "/v1", api_key="k", max_retries=0)
    await client.chat.completions.create(
        model="gemini-model", messages=ask_about(image_host + "/pixel.png")
    )
    parts = upstreams.states["gemini"].received[-1].body["contents"][0]["parts"]
    inline = [p["inlineData"] for p in parts if "inlineData" in p]
    assert inline == [{"mimeType": "image/png", "data": PIXEL_PNG}]


async def test_image_url_stays_a_url_for_anthropic(
    gateway: str, upstreams: Upstreams, image_host: str
) -> None:
    client = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="k", max_retries=0)
    url = image_host + "/pixel.png"
    await client.chat.completions.create(model="messages-model", messages=ask_about(url))
    blocks = upstreams.states["messages"].received[-1].body["messages"][0]["content"]
    assert {"type": "url", "url": url} in [b.get("source") for b in blocks]


@pytest.mark.parametrize("path", ["/missing.png", "/page.html"])
async def test_unfetchable_image_is_a_clear_400(
    media_gateway: str, upstreams: Upstreams, image_host: str, path: str
) -> None:
    client = openai.AsyncOpenAI(base_url=media_gateway + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="image"):
        await client.chat.completions.create(
            model="gemini-model", messages=ask_about(image_host + path)
        )
    assert upstreams.states["gemini"].received == []


async def test_private_addresses_are_not_fetched_by_default(
    gateway: str, upstreams: Upstreams, image_host: str
) -> None:
    # Without media_private_hosts the gateway cannot be used to reach into its own network.
    client = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="private address"):
        await client.chat.completions.create(
            model="gemini-model", messages=ask_about(image_host + "/pixel.png")
        )
    assert upstreams.states["gemini"].received == []


@pytest.fixture
async def counting_host() -> AsyncIterator[tuple[str, dict[str, int]]]:
    """An image host that counts fetches per path and the most it served at once."""
    counts: dict[str, int] = {"now": 0, "most": 0}

    async def image(request: web.Request) -> web.Response:
        counts[request.path] = counts.get(request.path, 0) + 1
        counts["now"] += 1
        counts["most"] = max(counts["most"], counts["now"])
        await asyncio.sleep(0.02)
        counts["now"] -= 1
        size = int(request.query.get("size", "0"))
        body = base64.b64decode(PIXEL_PNG) if not size else b"\x89PNG" + b"\0" * size
        return web.Response(body=body, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name}", image)
    async with serve_app(app) as url:
        yield url, counts


def ask_about_many(urls: list[str]) -> Any:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "Compare"}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return [{"role": "user", "content": parts}]


async def test_one_request_cannot_open_a_fetch_per_image(
    upstreams: Upstreams, counting_host: tuple[str, dict[str, int]]
) -> None:
    # Issue 10: 2,000 URLs opened 2,000 sockets at once.
    host, counts = counting_host
    server = {"media_private_hosts": True, "media_max_images": 30}
    async with run_gateway(upstreams.config({"server": server})) as gateway:
        client = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="k", max_retries=0)
        urls = [f"{host}/{n}.png" for n in range(20)]
        await client.chat.completions.create(model="gemini-model", messages=ask_about_many(urls))
        assert counts["most"] <= 4
        with pytest.raises(openai.BadRequestError, match="at most 30"):
            many = [f"{host}/{n}.png" for n in range(31)]
            await client.chat.completions.create(
                model="gemini-model", messages=ask_about_many(many)
            )


async def test_a_url_named_twice_is_fetched_once(
    media_gateway: str, upstreams: Upstreams, counting_host: tuple[str, dict[str, int]]
) -> None:
    host, counts = counting_host
    client = openai.AsyncOpenAI(base_url=media_gateway + "/v1", api_key="k", max_retries=0)
    urls = [f"{host}/same.png"] * 5 + [f"{host}/other.png"]
    await client.chat.completions.create(model="gemini-model", messages=ask_about_many(urls))
    assert counts["/same.png"] == 1 and counts["/other.png"] == 1
    parts = upstreams.states["gemini"].received[-1].body["contents"][0]["parts"]
    assert len([p for p in parts if "inlineData" in p]) == 6


async def test_the_images_of_one_request_are_capped_in_bytes(
    upstreams: Upstreams, counting_host: tuple[str, dict[str, int]]
) -> None:
    # Issue 10: 40 images of 16 MiB added 2.9 GiB of memory.
    host, _ = counting_host
    server = {"media_private_hosts": True, "media_max_bytes": 100_000}
    async with run_gateway(upstreams.config({"server": server})) as gateway:
        client = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="k", max_retries=0)
        urls = [f"{host}/{n}.png?size=40000" for n in range(4)]
        with pytest.raises(openai.BadRequestError, match="100000 bytes"):
            await client.chat.completions.create(
                model="gemini-model", messages=ask_about_many(urls)
            )
    assert upstreams.states["gemini"].received == []


async def test_the_checked_address_is_the_one_connected_to(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 10: DNS rebinding. The guard resolved, then the connect resolved again, so a name
    # that answers a public address first and a private one next reached the private one.
    answers = iter(["93.184.216.34", "127.0.0.1"])

    async def rebinding(host: str, port: Any, **kwargs: Any) -> Any:
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0))]

    requested: list[str | None] = []

    async def recording(*args: Any, address: str | None = None, **kwargs: Any) -> Any:
        requested.append(address)
        raise httpclient.ConnectError("stop here: nothing leaves the machine in tests")

    upstream = Upstream()
    await upstream.start()
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", rebinding)
    monkeypatch.setattr(upstream.pool, "request", recording)
    try:
        with pytest.raises(UpstreamUnreachable):
            await fetch(upstream, "http://rebind.example.invalid/cat.png", 1000, 2)
    finally:
        await upstream.close()
    assert requested == ["93.184.216.34"]
