"""Who may use the admin API: only the admin key, and only when one is set."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.admin.conftest import ADMIN_KEY, GATEWAY_KEY, Admin
from tests.conftest import Upstreams, run_gateway


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Bearer {GATEWAY_KEY}"},
        {"Authorization": ADMIN_KEY},  # not a Bearer credential
        {"x-api-key": ADMIN_KEY},
    ],
    ids=["none", "wrong", "gateway-key", "no-bearer", "x-api-key"],
)
async def test_refused_without_the_admin_key(admin: Admin, headers: dict[str, str]) -> None:
    before = admin.path.read_bytes()
    status, body, _ = await admin.call("PUT", "/config", {"yaml": "keys: {}\n"}, headers)
    assert status == 401
    assert body["error"]["type"] == "unauthorized"
    assert admin.path.read_bytes() == before


async def test_a_gateway_key_equal_to_the_admin_key_is_refused(
    upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEXUS_ADMIN_KEY", GATEWAY_KEY)
    config = upstreams.config({"keys": {"alice": {"secret": GATEWAY_KEY}}})
    async with run_gateway(config) as url, aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {GATEWAY_KEY}"}
        async with session.get(f"{url}/v0/admin/health", headers=headers) as response:
            assert response.status == 401
            body = await response.json()
            assert body["error"]["message"] == "a gateway key is not an admin key"


async def test_off_without_an_admin_key(
    upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PLEXUS_ADMIN_KEY", raising=False)
    async with run_gateway(upstreams.config()) as url, aiohttp.ClientSession() as session:
        for path in ("/v0/admin/health", "/v0/admin/config", "/v0/admin/nothing"):
            headers = {"Authorization": "Bearer anything"}
            async with session.get(url + path, headers=headers) as response:
                assert response.status == 404
                body = await response.json()
                assert body["error"]["type"] == "not_found"
                assert "PLEXUS_ADMIN_KEY" in body["error"]["message"]


async def test_admin_routes_ignore_the_gateway_key_requirement(admin: Admin) -> None:
    # The gateway has a key (alice), yet the admin API takes only the admin key: /v1 still
    # refuses the admin key.
    status, _, _ = await admin.call("GET", "/health")
    assert status == 200
    headers = admin.headers()
    async with admin.session.get(f"{admin.url}/v1/models", headers=headers) as response:
        assert response.status == 401


async def test_unknown_path_and_wrong_method(admin: Admin) -> None:
    status, body, _ = await admin.call("GET", "/nope")
    assert (status, body["error"]["type"]) == (404, "not_found")
    status, body, _ = await admin.call("DELETE", "/config")
    assert (status, body["error"]["type"]) == (405, "method_not_allowed")
    assert "GET" in body["error"]["message"] and "PUT" in body["error"]["message"]
