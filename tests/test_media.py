"""Image URLs are fetched and inlined for Gemini, which cannot fetch them itself."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from aiohttp import web

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
