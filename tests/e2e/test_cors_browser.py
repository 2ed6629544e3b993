"""A page of another origin calls the gateway from a real headless Chromium (cors.py): the
browser's own preflight and CORS checks decide, not our reading of the standard."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser

from tests.conftest import Upstreams, run_gateway, serve_app
from tests.e2e import browser as chromium

KEY = "sk-page"
browser = chromium.browser  # the fixture

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    chromium.needs_chromium,
]

# What the page runs: a streamed Chat Completions call with the key in `authorization` (which
# makes the browser preflight), reading the answer's text and a header it must be shown.
CALL = """async ([url, key]) => {
  try {
    const answer = await fetch(url + "/v1/chat/completions", {
      method: "POST",
      headers: {"authorization": "Bearer " + key, "content-type": "application/json"},
      body: JSON.stringify({model: "messages-model", stream: true,
                            messages: [{role: "user", content: "hi"}]}),
    });
    return {status: answer.status, id: answer.headers.get("x-request-id"),
            text: await answer.text()};
  } catch (error) {
    return {error: String(error)};
  }
}"""


async def _call_from_page(browser: Browser, gateway: str) -> dict[str, Any]:
    """Open a page of another origin (another port) and run CALL there."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>chat</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    async with serve_app(app) as site:
        tab = await browser.new_page()
        try:
            await tab.goto(site + "/")
            result: dict[str, Any] = await tab.evaluate(CALL, [gateway, KEY])
        finally:
            await tab.close()
    return result


async def test_a_page_of_another_origin_streams_an_answer(
    browser: Browser, upstreams: Upstreams
) -> None:
    config = upstreams.config({"keys": {"page": {"secret": KEY}}})
    async with run_gateway(config) as url:
        result = await _call_from_page(browser, url)
    assert result.get("status") == 200, result
    assert result["id"], result  # exposed to the page
    assert "data: [DONE]" in result["text"], result


async def test_an_open_gateway_is_not_callable_from_pages(
    browser: Browser, upstreams: Upstreams
) -> None:
    async with run_gateway(upstreams.config()) as url:
        result = await _call_from_page(browser, url)
    assert "error" in result, result  # the browser refused: a page cannot spend the keys
    assert not upstreams.states["messages"].received, "the upstream was called"
