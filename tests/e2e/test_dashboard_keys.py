"""The dashboard's Keys page in a real headless Chromium: a key made in the form, its secret
read from the page (shown once) and used by the official SDK; a bad limit refused by its
field; disable, rotate and delete from the list."""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest
from playwright.async_api import Page, expect

from tests.e2e import test_dashboard as dashboard
from tests.e2e.test_dashboard import GATEWAY_KEY, Site, shot

pytestmark = dashboard.pytestmark
# The dashboard tests' fixtures: the gateway with its mocks, the browser, a signed-in page.
site, browser, page = dashboard.site, dashboard.browser, dashboard.page
HI: Any = [{"role": "user", "content": "hi"}]


def sdk(site: Site, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=site.url + "/v1", api_key=secret, max_retries=0)


async def test_a_key_made_in_the_page_works_and_its_secret_is_shown_once(
    page: Page, site: Site
) -> None:
    await page.get_by_role("link", name="Keys").click()
    main = page.locator("main")
    await expect(main.locator("tr[data-key='alice']")).to_contain_text("config")
    await main.get_by_role("button", name="New key").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Name").fill("dash-bot")
    await dialog.get_by_label("Models").fill("chat-model")
    await dialog.get_by_label("Requests per minute").fill("0")
    await dialog.get_by_role("button", name="Create key").click()
    rpm = dialog.get_by_label("Requests per minute")
    await expect(rpm).to_have_attribute("aria-invalid", "true")
    await rpm.fill("50")
    await dialog.get_by_role("button", name="Create key").click()
    await expect(dialog).to_have_count(0)
    await expect(main.get_by_text("it will not be shown again")).to_be_visible()
    secret = await main.get_by_label("Secret of dash-bot").input_value()
    assert re.fullmatch(r"sk-plx-[A-Za-z0-9_-]{43}", secret)
    row = main.locator("tr[data-key='dash-bot']")
    await expect(row).to_contain_text(secret[:12] + "…")
    await expect(row).to_contain_text("50 rpm")
    await shot(page, "keys")
    answer = await sdk(site, secret).chat.completions.create(model="chat-model", messages=HI)
    assert answer.choices[0].message.content
    with pytest.raises(openai.PermissionDeniedError):
        await sdk(site, secret).chat.completions.create(model="messages-model", messages=HI)
    listed = await site.admin("/keys")
    assert secret not in str(listed)
    await page.reload()  # the secret is gone for good
    await expect(row).to_be_visible()
    assert secret not in (await page.content())

    await row.get_by_role("button", name="Disable key dash-bot").click()
    await expect(row).to_contain_text("disabled")
    with pytest.raises(openai.AuthenticationError):
        await sdk(site, secret).chat.completions.create(model="chat-model", messages=HI)
    await row.get_by_role("button", name="Enable key dash-bot").click()
    await expect(row).to_contain_text("active")

    await row.get_by_role("button", name="Rotate key dash-bot").click()
    await page.get_by_role("dialog").get_by_role("button", name="Rotate").click()
    rotated = main.get_by_label("Secret of dash-bot")
    await expect(rotated).not_to_have_value(secret)
    new = await rotated.input_value()
    with pytest.raises(openai.AuthenticationError):
        await sdk(site, secret).chat.completions.create(model="chat-model", messages=HI)
    await sdk(site, new).chat.completions.create(model="chat-model", messages=HI)

    await row.get_by_role("button", name="Delete key dash-bot").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(row).to_have_count(0)
    with pytest.raises(openai.AuthenticationError):
        await sdk(site, new).chat.completions.create(model="chat-model", messages=HI)
    assert await sdk(site, GATEWAY_KEY).models.list()  # the config's key untouched
