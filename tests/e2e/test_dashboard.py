"""The dashboard in a real headless Chromium (Debian's `chromium`, driven by Playwright).

The page is the gateway's own /ui, its data the gateway's own admin API, and the client
requests go through the gateway to the mock upstreams. With `PLEXUS_UI_SHOTS=DIR`, screenshots
of each page land in DIR (the README's come from there).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yaml
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from plexus.app import Gateway
from plexus.config import load_config, parse_config
from plexus.providers import ADAPTERS
from tests.conftest import Upstreams, run_gateway
from tests.e2e import browser as chromium

SHOTS = Path(os.environ["PLEXUS_UI_SHOTS"]) if os.environ.get("PLEXUS_UI_SHOTS") else None
ADMIN_KEY = "admin-test-key-0123456789"
GATEWAY_KEY = "alice-secret"
XSS = "<img src=x onerror=\"window.__pwned = 'ua'\">"
XSS_MODEL = "<script>window.__pwned='model'</script>"
TRAFFIC = 4  # the requests `_traffic` sends
browser = chromium.browser  # the fixture (test_dashboard_keys.py takes it from here too)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    chromium.needs_chromium,
]


@dataclass
class Site:
    url: str
    config: Path
    upstreams: Upstreams

    async def admin(self, path: str, method: str = "GET", body: object = None) -> object:
        """Call the admin API as the dashboard does."""
        headers = {"authorization": f"Bearer {ADMIN_KEY}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, f"{self.url}/v0/admin{path}", json=body, headers=headers) as r,
        ):
            assert r.status == 200, await r.text()
            return await r.json()


@pytest.fixture
async def site(
    upstreams: Upstreams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Site]:
    """The gateway with the mocks behind it and the admin API, on one origin; some traffic
    (answered requests, one refused, one with markup in its user agent) and a target cooling."""
    raw = {
        "usage": {"flush_seconds": 0.05},
        "keys": {"alice": {"secret": GATEWAY_KEY}},
        "providers": {
            name: {"type": api, "api_base_url": upstreams.base_url(api), "api_key": "upstream-key"}
            for api, name in (("chat", "mock-chat"), ("messages", "mock-messages"))
        },
        "models": {
            "chat-model": {"targets": [{"provider": "mock-chat", "model": "up-chat"}]},
            "messages-model": {"targets": [{"provider": "mock-messages", "model": "up-messages"}]},
        },
    }
    path = tmp_path / "plexus.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setenv("PLEXUS_ADMIN_KEY", ADMIN_KEY)
    gateway = Gateway(load_config(path, ADAPTERS), str(path))
    async with run_gateway(gateway.config, gateway) as url:
        site = Site(url, path, upstreams)
        await _traffic(url)
        gateway.health.failed(("mock-messages", "up-messages"), 300.0)
        for _ in range(100):  # the usage store takes the records in a moment
            answer = await site.admin("/requests")
            if isinstance(answer, dict) and len(answer["data"]) >= TRAFFIC:
                break
            await asyncio.sleep(0.05)
        yield site


async def _traffic(url: str) -> None:
    auth = {"authorization": f"Bearer {GATEWAY_KEY}"}
    async with aiohttp.ClientSession() as session:
        for model, agent in [
            ("chat-model", "sdk/1.0"),
            ("chat-model", XSS),
            ("messages-model", "sdk/1.0"),
            (XSS_MODEL, "sdk/1.0"),
        ]:
            body: dict[str, object] = {
                "model": model,
                "messages": [{"role": "user", "content": "Hi"}],
            }
            if model.startswith("messages"):
                body["max_tokens"] = 16
            path = "/v1/messages" if model.startswith("messages") else "/v1/chat/completions"
            async with session.post(
                url + path, json=body, headers={**auth, "user-agent": agent}
            ) as response:
                await response.read()


@pytest.fixture
async def page(browser: Browser, site: Site) -> AsyncIterator[Page]:
    """A signed-in page; fails the test on a script error or an uncaught exception."""
    context = await browser.new_context(
        viewport={"width": 1360, "height": 900}, accept_downloads=True
    )
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"exception: {error}"))
    page.on("console", lambda message: _script_error(message, problems))
    await sign_in(page, site.url, ADMIN_KEY)
    await page.wait_for_url(f"{site.url}/ui")
    yield page
    assert await page.evaluate("window.__pwned") is None
    await context.close()
    assert problems == []


def _script_error(message: ConsoleMessage, problems: list[str]) -> None:
    # Chromium logs each refused request (the 400 of a bad edit) as an error: not the page's.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        problems.append(message.text)


async def sign_in(page: Page, url: str, key: str) -> None:
    await page.goto(f"{url}/ui")
    await page.wait_for_url(f"{url}/ui/login?next=%2Fui")
    await page.get_by_label("Admin key").fill(key)
    await page.get_by_role("button", name="Sign in").click()


async def shot(page: Page, name: str) -> None:
    if SHOTS is None:
        return
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_a_wrong_key_is_refused_and_the_right_one_signs_in(
    browser: Browser, site: Site
) -> None:
    page = await browser.new_page()
    await sign_in(page, site.url, "not-the-key")
    await expect(page.get_by_text("That key was refused.")).to_be_visible()
    await shot(page, "login")
    await page.get_by_label("Admin key").fill(ADMIN_KEY)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{site.url}/ui")
    assert await page.evaluate("sessionStorage.getItem('plexus.adminKey')") == ADMIN_KEY
    await page.close()


async def test_without_an_admin_key_the_page_says_how_to_turn_it_on(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLEXUS_ADMIN_KEY", raising=False)
    async with run_gateway(parse_config({})) as url:
        page = await browser.new_page()
        await sign_in(page, url, "any-key")
        await expect(page.get_by_text("start Plexus with PLEXUS_ADMIN_KEY set")).to_be_visible()
        await page.close()


async def test_overview_shows_the_traffic(page: Page, site: Site) -> None:
    main = page.locator("main")
    await expect(main.get_by_role("heading", name="Overview")).to_be_visible()
    await expect(main.get_by_text("chat-model").first).to_be_visible()
    await expect(main.get_by_text("mock-chat").first).to_be_visible()
    overview = await site.admin("/overview")
    assert isinstance(overview, dict)
    requests = main.locator(".stat").first.locator(".stat-value")
    await expect(requests).to_have_text(str(overview["totals"]["requests"]))
    # Traffic without a price (the real ledger knows none for the mock models) is not "no traffic".
    unpriced = main.get_by_text("No priced request in this period")
    await expect(unpriced).to_have_count(1 if overview["totals"]["cost_usd"] == 0 else 0)
    await expect(main.get_by_text("No traffic in this period")).to_have_count(0)
    await page.wait_for_load_state("networkidle")
    await shot(page, "overview")
    await page.emulate_media(color_scheme="dark")
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(11, 13, 18)"  # --bg of the dark scheme
    await shot(page, "overview-dark")
    await page.set_viewport_size({"width": 400, "height": 860})  # a phone: nothing runs off
    await expect(main.get_by_text("chat-model").first).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 400
    await shot(page, "overview-narrow")


async def test_the_log_shows_markup_as_text_and_live_requests(page: Page, site: Site) -> None:
    await page.get_by_role("link", name="Requests").click()
    rows = page.locator("main tbody tr")
    await expect(rows).to_have_count(4)
    await expect(page.get_by_text(XSS_MODEL)).to_be_visible()
    async with aiohttp.ClientSession() as session:
        body = {"model": "chat-model", "messages": [{"role": "user", "content": "live"}]}
        auth = {"authorization": f"Bearer {GATEWAY_KEY}"}
        async with session.post(
            site.url + "/v1/chat/completions", json=body, headers=auth
        ) as answer:
            assert answer.status == 200
    await expect(rows).to_have_count(5)
    await shot(page, "log")
    await page.get_by_label("Alias").fill("messages-model")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("mock-messages")
    await page.get_by_label("Alias").fill("")
    await page.get_by_label("Status").select_option("error")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("404")
    async with aiohttp.ClientSession() as session:  # live records pass the same filter
        for model in ("chat-model", "no-such-model"):
            body = {"model": model, "messages": [{"role": "user", "content": "live"}]}
            async with session.post(site.url + "/v1/chat/completions", json=body, headers=auth):
                pass
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("no-such-model")
    await expect(rows.locator(".badge", has_text="200")).to_have_count(0)
    records = await site.admin("/requests")
    assert isinstance(records, dict)
    marked = next(r for r in records["data"] if r["user_agent"] == XSS)
    await page.goto(f"{site.url}/ui/log/{marked['request_id']}")
    await expect(page.get_by_text(XSS, exact=True)).to_be_visible()
    assert await page.locator("main img[src='x']").count() == 0
    await expect(page.get_by_role("heading", name="Attempt trail")).to_be_visible()
    await shot(page, "request")


async def test_usage_renders_and_exports_csv(page: Page, site: Site) -> None:
    await page.get_by_role("link", name="Usage").click()
    await expect(page.locator("main tbody tr").first).to_be_visible()
    await expect(page.locator("main tbody").get_by_text("chat-model")).to_be_visible()
    usage = await site.admin("/usage?period=day&by=alias")
    assert isinstance(usage, dict)
    priced = any(row["cost_usd"] for row in usage["rows"])
    unpriced = page.get_by_text("No priced request in this period")
    await expect(unpriced).to_have_count(0 if priced else 1)
    await shot(page, "usage")
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Export CSV").click()
    download = await waiting.value
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    header, *lines = text.splitlines()
    assert header.startswith("period,group,requests,errors")
    assert any(",chat-model," in line for line in lines)


async def test_providers_show_health_and_a_bad_edit_is_refused_by_the_field(
    page: Page, site: Site
) -> None:
    await page.get_by_role("link", name="Providers").click()
    main = page.locator("main")
    await expect(main.get_by_text("cooling").first).to_be_visible()
    await expect(main.get_by_text("cooling down for 5 min")).to_be_visible()
    await shot(page, "providers")
    await main.get_by_role("button", name="Reset cooldown of mock-messages up-messages").click()
    await expect(main.get_by_text("cooling")).to_have_count(0)
    health = await site.admin("/health")
    assert isinstance(health, dict)
    assert [t for t in health["data"] if t["state"] == "cooling"] == []
    before = site.config.read_bytes()
    await main.get_by_role("button", name="Edit provider mock-chat").click()
    dialog = page.get_by_role("dialog")
    url_field = dialog.get_by_label("Base URL")
    await expect(url_field).not_to_have_value("")
    await url_field.fill("not a url")
    await dialog.get_by_role("button", name="Save").click()
    await expect(url_field).to_have_attribute("aria-invalid", "true")
    error = dialog.locator("[data-path='api_base_url'] .field-error")
    await expect(error).to_be_visible()
    assert await error.text_content()
    await shot(page, "provider-edit-refused")
    assert site.config.read_bytes() == before


async def test_an_alias_with_an_unknown_provider_is_refused_by_the_field(
    page: Page, site: Site
) -> None:
    await page.get_by_role("link", name="Providers").click()
    before = site.config.read_bytes()
    await page.locator("main").get_by_role("button", name="Edit alias chat-model").click()
    dialog = page.get_by_role("dialog")
    provider = dialog.get_by_label("Provider")
    await expect(provider).to_have_value("mock-chat")
    await provider.fill("no-such-provider")
    await dialog.get_by_role("button", name="Save").click()
    await expect(provider).to_have_attribute("aria-invalid", "true")
    await expect(dialog.locator(".field-error").filter(has_text="no-such-provider")).to_be_visible()
    await expect(dialog.get_by_label("Model", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )
    await shot(page, "alias-edit-refused")
    assert site.config.read_bytes() == before


async def test_an_alias_edit_routes_by_the_new_target(page: Page, site: Site) -> None:
    await page.get_by_role("link", name="Providers").click()
    await page.locator("main").get_by_role("button", name="Edit alias chat-model").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label("Provider")).to_have_value("mock-chat")
    await dialog.get_by_label("Provider").fill("mock-messages")
    await dialog.get_by_label("Model", exact=True).fill("up-messages")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_have_count(0)
    await expect(
        page.locator("main").get_by_text("mock-messages · up-messages").first
    ).to_be_visible()
    received = site.upstreams.states["messages"].received
    before = len(received)
    body = {"model": "chat-model", "messages": [{"role": "user", "content": "where to?"}]}
    auth = {"authorization": f"Bearer {GATEWAY_KEY}"}
    async with aiohttp.ClientSession() as session:
        for _ in range(40):  # the file watcher applies the edit within about a second
            async with session.post(
                site.url + "/v1/chat/completions", json=body, headers=auth
            ) as answer:
                assert answer.status == 200
            if len(received) > before:
                break
            await asyncio.sleep(0.1)
    assert len(received) > before


async def test_settings_shows_validates_and_saves_the_yaml(page: Page, site: Site) -> None:
    await page.get_by_role("link", name="Settings").click()
    editor = page.locator("main textarea")
    await expect(editor).to_have_value(re.compile("messages-model"))
    shown = await editor.input_value()
    await shot(page, "settings")
    await editor.fill("providers: [")
    await page.get_by_role("button", name="Validate").click()
    await expect(page.locator("main [role=alert]")).to_be_visible()
    await editor.fill(shown.replace("up-chat", "up-chat-2"))
    await page.get_by_role("button", name="Save and apply").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    changes = page.locator("main section", has=page.get_by_role("heading", name="Recent changes"))
    await expect(changes.locator("tbody tr").first).to_contain_text("config.replace")
    await shot(page, "settings-saved")
    saved = yaml.safe_load(site.config.read_text())
    assert saved["models"]["chat-model"]["targets"][0]["model"] == "up-chat-2"
    assert saved["keys"]["alice"]["secret"] == GATEWAY_KEY  # shown redacted or not, kept


async def test_settings_refuses_to_overwrite_a_newer_file(page: Page, site: Site) -> None:
    await page.get_by_role("link", name="Settings").click()
    editor = page.locator("main textarea")
    await expect(editor).to_have_value(re.compile("messages-model"))
    newer = site.config.read_text() + "# changed by someone else\n"
    site.config.write_text(newer)
    await editor.fill((await editor.input_value()).replace("up-chat", "up-chat-2"))
    await page.get_by_role("button", name="Save and apply").click()
    await expect(page.get_by_text("The file changed since you opened it")).to_be_visible()
    assert site.config.read_text() == newer


async def test_the_playground_streams_an_answer_and_shows_the_upstream_request(
    page: Page,
) -> None:
    await page.get_by_role("link", name="Playground").click()
    await page.get_by_label("Model or alias").fill("chat-model")
    await page.get_by_label("Gateway key").fill(GATEWAY_KEY)
    await page.get_by_label("Prompt").fill("Say hello")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".answer-text")).to_have_text("Hello from the mock.")
    await expect(page.get_by_text("streamed")).to_be_visible()
    upstream = page.locator(".upstream pre")
    await expect(upstream).to_contain_text('"up-chat"')
    assert json.loads(await upstream.text_content() or "")["model"] == "up-chat"
    await shot(page, "playground")
    for api in ("Messages", "Responses", "Gemini"):  # the same alias through each client API
        await page.locator(".answer-text").evaluate("node => node.remove()")
        await page.locator(".segmented").get_by_text(api, exact=True).click()
        await page.get_by_role("button", name="Send").click()
        await expect(page.locator(".answer-text")).to_have_text("Hello from the mock.")
        await expect(page.get_by_text("streamed")).to_be_visible()
        await expect(upstream).to_contain_text('"up-chat"')
