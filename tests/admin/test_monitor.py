"""Monitoring through the admin API: the request log and one request's trail, usage (JSON and
CSV), the overview, target health and its reset, the audit log; bad parameters are 400s."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from typing import Any

import aiohttp
import pytest

from tests.admin.conftest import GATEWAY_KEY, Admin
from tests.conftest import Upstreams, run_gateway
from tests.ports import free_port


async def send(admin: Admin, model: str, stream: bool = False) -> tuple[int, str]:
    """One chat completion through /v1 as alice; its status and request id."""
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}"}
    url = f"{admin.url}/v1/chat/completions"
    async with admin.session.post(url, json=body, headers=headers) as response:
        await response.read()
        return response.status, response.headers["x-request-id"]


async def stored(admin: Admin, count: int) -> list[dict[str, Any]]:
    """The request log once it holds `count` rows (the store writes in the background)."""
    for _ in range(200):
        status, body, _ = await admin.call("GET", "/requests")
        assert status == 200
        if len(body["data"]) >= count:
            return list(body["data"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"the store never held {count} requests")


@pytest.fixture
async def traffic(admin: Admin) -> Admin:
    """Four requests: two answered, one streamed after a dead first target, one unknown model."""
    fallback = {
        "selector": "in_order",
        "targets": [{"provider": "dead", "model": "up-chat"},
                    {"provider": "mock-chat", "model": "up-chat"}],
    }  # fmt: skip
    dead = {"type": "chat", "api_base_url": f"http://127.0.0.1:{free_port()}/v1"}
    assert (await admin.call("PUT", "/providers/dead", dead))[0] == 200
    assert (await admin.call("PUT", "/aliases/fallback", fallback))[0] == 200
    assert (await send(admin, "chat-model"))[0] == 200
    assert (await send(admin, "messages-model"))[0] == 200
    assert (await send(admin, "fallback", stream=True))[0] == 200
    assert (await send(admin, "no-such-model"))[0] == 404
    await stored(admin, 4)
    return admin


async def test_request_log_newest_first_with_filters_and_paging(traffic: Admin) -> None:
    rows = await stored(traffic, 4)
    aliases = [r["alias"] for r in rows]
    assert aliases == ["no-such-model", "fallback", "messages-model", "chat-model"]
    assert rows[0]["status"] == 404 and rows[0]["key"] == "alice"
    assert "trail" not in rows[0]
    assert {"request_id", "client_api", "cost_usd", "ttft_ms", "passthrough"} <= set(rows[0])
    _, body, _ = await traffic.call("GET", "/requests", key="alice")
    assert len(body["data"]) == 4
    _, body, _ = await traffic.call("GET", "/requests", key="bob")
    assert body["data"] == []
    _, body, _ = await traffic.call("GET", "/requests", provider="mock-messages")
    assert [r["provider"] for r in body["data"]] == ["mock-messages"]
    _, body, _ = await traffic.call("GET", "/requests", status="4xx")
    assert [r["status"] for r in body["data"]] == [404]
    _, body, _ = await traffic.call("GET", "/requests", status="error")
    assert len(body["data"]) == 1
    _, body, _ = await traffic.call("GET", "/requests", alias="chat-model", status="200")
    assert len(body["data"]) == 1
    seen, cursor = [], None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        _, body, _ = await traffic.call("GET", "/requests", None, None, **params)
        seen += [r["request_id"] for r in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["request_id"] for r in rows]


async def test_one_request_with_its_trail(traffic: Admin) -> None:
    rows = await stored(traffic, 4)
    fallback = next(r for r in rows if r["alias"] == "fallback")
    status, body, _ = await traffic.call("GET", f"/requests/{fallback['request_id']}")
    assert status == 200
    assert body["stream"] is True and body["provider"] == "mock-chat"
    trail = body["trail"]
    assert [(s["provider"], s["model"]) for s in trail] == [
        ("dead", "up-chat"),
        ("mock-chat", "up-chat"),
    ]
    assert trail[0]["error"] and trail[0]["status"] >= 500
    assert trail[1]["status"] == 200 and trail[1]["error"] is None
    status, body, _ = await traffic.call("GET", "/requests/not-a-request")
    assert (status, body["error"]["type"]) == (404, "not_found")


async def test_usage_json_and_csv(traffic: Admin) -> None:
    status, body, _ = await traffic.call("GET", "/usage", period="day", by="alias")
    assert status == 200
    groups = {row["group"]: row for row in body["rows"]}
    assert groups["chat-model"]["requests"] == 1
    assert groups["chat-model"]["input_tokens"] > 0
    assert sum(row["errors"] for row in body["rows"]) == 1
    assert all(row["period"].endswith("T00:00:00Z") for row in body["rows"])
    status, text, response = await traffic.call(
        "GET", "/usage", period="total", by="provider", format="csv"
    )
    assert status == 200 and response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == list(body["rows"][0])
    by_provider = {row["group"]: int(row["requests"]) for row in table}
    assert by_provider["mock-messages"] == 1 and by_provider["mock-chat"] == 2


async def test_overview_series_totals_and_top(traffic: Admin) -> None:
    status, body, _ = await traffic.call("GET", "/overview", since="-1h")
    assert status == 200
    assert len(body["series"]) == 60  # one-minute buckets over an hour
    assert body["totals"]["requests"] == 4 and body["totals"]["errors"] == 1
    assert body["totals"]["p50_ms"] is not None and body["totals"]["ttft_p50_ms"] is not None
    assert sum(p["requests"] for p in body["series"]) == 4
    empty = body["series"][0]
    assert empty["requests"] == 0 and empty["p95_ms"] is None
    top = {entry["name"]: entry["requests"] for entry in body["top"]["providers"]}
    assert top == {"mock-chat": 2, "mock-messages": 1}
    assert body["top"]["keys"] == [{"name": "alice", "requests": 4, "cost_usd": 0.0}]


async def test_csv_cells_never_run_as_formulas(admin: Admin) -> None:
    """The alias column holds whatever model name a client sent."""
    assert (await send(admin, '=HYPERLINK("http://evil")'))[0] == 404
    await stored(admin, 1)
    _, text, _ = await admin.call("GET", "/usage", period="total", by="alias", format="csv")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["group"] == '\'=HYPERLINK("http://evil")'
    _, body, _ = await admin.call("GET", "/usage", period="total", by="alias")
    assert body["rows"][0]["group"] == '=HYPERLINK("http://evil")'  # JSON: as it was


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/overview", {"since": "yesterday"}),
        ("/overview", {"since": "-40d"}),
        ("/overview", {"since": "-1h", "bucket": "1"}),
        ("/overview", {"since": "-1h", "until": "-2h"}),
        ("/usage", {"period": "fortnight"}),
        ("/usage", {"by": "colour"}),
        ("/usage", {"format": "xml"}),
        ("/requests", {"limit": "0"}),
        ("/requests", {"limit": "many"}),
        ("/requests", {"status": "teapot"}),
        ("/requests", {"cursor": "!!"}),
        ("/audit", {"cursor": "x"}),
    ],
)
async def test_bad_parameters_are_bad_requests(
    admin: Admin, path: str, params: dict[str, str]
) -> None:
    status, body, _ = await admin.call("GET", path, None, None, **params)
    assert (status, body["error"]["type"]) == (400, "bad_request"), body
    assert body["error"]["message"]


async def test_health_and_reset(traffic: Admin) -> None:
    status, body, _ = await traffic.call("GET", "/health")
    assert status == 200
    dead = next(h for h in body["data"] if h["provider"] == "dead")
    assert dead["state"] == "cooling" and dead["failures"] == 1
    assert dead["cooling_until"] > time.time()
    status, body, _ = await traffic.call("POST", "/health/reset", {"provider": "dead"})
    assert (status, body) == (200, {"reset": 1})
    _, body, _ = await traffic.call("GET", "/health")
    dead = next(h for h in body["data"] if h["provider"] == "dead")
    assert (dead["state"], dead["cooling_until"], dead["failures"]) == ("ok", None, 0)
    status, body, _ = await traffic.call("POST", "/health/reset", {"provider": "nobody"})
    assert (status, body["error"]["type"]) == (404, "not_found")
    status, body, _ = await traffic.call("POST", "/health/reset", {"provider": "dead", "x": 1})
    assert (status, body["error"]["type"]) == (400, "bad_request")
    _, log, _ = await traffic.call("GET", "/audit", limit="1")
    assert [(e["action"], e["target"]) for e in log["data"]] == [("health.reset", "dead")]
    assert log["next_cursor"] is not None
    _, older, _ = await traffic.call("GET", "/audit", cursor=log["next_cursor"])
    assert [e["target"] for e in older["data"]] == ["models.fallback", "providers.dead"]
    assert older["next_cursor"] is None


async def test_monitoring_without_a_usage_store(
    upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEXUS_ADMIN_KEY", "k")
    config = upstreams.config({"usage": {"database": "none"}})
    headers = {"Authorization": "Bearer k"}
    async with run_gateway(config) as url, aiohttp.ClientSession() as session:
        for path in ("/overview", "/usage", "/requests", "/requests/x", "/audit"):
            async with session.get(f"{url}/v0/admin{path}", headers=headers) as response:
                assert response.status == 409, path
                assert (await response.json())["error"]["type"] == "conflict"
        async with session.get(f"{url}/v0/admin/config", headers=headers) as response:
            assert response.status == 409  # no config file either
        async with session.get(f"{url}/v0/admin/health", headers=headers) as response:
            assert response.status == 200
