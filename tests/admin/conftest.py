"""An admin-enabled gateway run from a real config file, and an HTTP client for its API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from plexus.app import Gateway
from plexus.config import load_config
from plexus.providers import ADAPTERS
from tests.conftest import Upstreams, run_gateway

ADMIN_KEY = "admin-test-key-0123456789"
GATEWAY_KEY = "gateway-key-alice"
UPSTREAM_KEY = "sk-upstream-secret-42"
ENV_KEY = "sk-from-the-environment"

CONFIG = """\
# The test gateway's config: comments must survive every edit.
server:
  max_attempts: 2

usage:
  flush_seconds: 0.05

keys:
  alice:
    secret: {gateway_key}  # alice's key

providers:
  # the chat mock
  mock-chat:
    type: chat
    api_base_url: {chat_url}
    api_key: ${{PLEXUS_TEST_UPSTREAM_KEY}}
    models: [up-chat]
  mock-messages:
    type: messages
    api_base_url: {messages_url}
    api_key: "{upstream_key}"

models:
  chat-model:
    targets:
      - provider: mock-chat
        model: up-chat
  messages-model:
    targets:
      - provider: mock-messages
        model: up-messages
"""


@dataclass
class Admin:
    """The running gateway, its config file, and calls to its admin API."""

    url: str
    path: Path
    gateway: Gateway
    session: aiohttp.ClientSession

    def headers(self, key: str = ADMIN_KEY, **extra: str) -> dict[str, str]:
        """The admin key's Authorization header, plus `extra`."""
        return {"Authorization": f"Bearer {key}", **extra}

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        **params: str,
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        """One admin API call: its status, its JSON (or text) body, and the response."""
        async with self.session.request(
            method,
            f"{self.url}/v0/admin{path}",
            json=body,
            params=params,
            headers=self.headers() if headers is None else headers,
        ) as response:
            text = await response.text()
            kind = response.headers.get("content-type", "")
            data = await response.json() if kind.startswith("application/json") else text
            return response.status, data, response


def write_config(path: Path, upstreams: Upstreams) -> None:
    """The test config file, pointing at the mock upstreams."""
    path.write_text(
        CONFIG.format(
            gateway_key=GATEWAY_KEY,
            chat_url=upstreams.base_url("chat"),
            messages_url=upstreams.base_url("messages"),
            upstream_key=UPSTREAM_KEY,
        )
    )


@pytest.fixture
async def admin(
    upstreams: Upstreams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Admin]:
    """A gateway with the admin API on, serving the test config file."""
    monkeypatch.setenv("PLEXUS_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.setenv("PLEXUS_TEST_UPSTREAM_KEY", ENV_KEY)
    upstreams.states["chat"].api_key = ENV_KEY
    upstreams.states["messages"].api_key = UPSTREAM_KEY
    path = tmp_path / "conf" / "plexus.yaml"
    path.parent.mkdir()
    write_config(path, upstreams)
    gateway = Gateway(load_config(path, ADAPTERS), str(path))
    async with run_gateway(gateway.config, gateway) as url, aiohttp.ClientSession() as session:
        yield Admin(url, path, gateway, session)
