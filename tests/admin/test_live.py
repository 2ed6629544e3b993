"""The live stream of finished requests, the playground's translation view, and the OpenAPI
document."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from plexus.admin.api import ENDPOINTS, PREFIX
from plexus.admin.events import EventHub, frames
from plexus.ledger.record import UsageRecord
from tests.admin.conftest import ENV_KEY, UPSTREAM_KEY, Admin
from tests.admin.test_monitor import send
from tests.conftest import Upstreams, run_gateway


async def next_event(lines: Any) -> tuple[str, str]:
    """The next SSE event's name and data, or a comment line as ("comment", text)."""
    name = ""
    while True:
        line = (await asyncio.wait_for(lines.readline(), 5)).decode().rstrip("\n")
        if line.startswith(":"):
            return "comment", line
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            return name, line[6:]


async def test_events_stream_finished_requests(admin: Admin) -> None:
    url = f"{admin.url}{PREFIX}/events"
    async with admin.session.get(url, headers=admin.headers()) as response:
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert admin.gateway.events.subscribers  # subscribed before the answer's head
        _, request_id = await send(admin, "chat-model")
        name, data = await next_event(response.content)
        record = json.loads(data)
        assert name == "request"
        assert record["request_id"] == request_id and record["status"] == 200
        [step] = record["trail"]
        assert (step["provider"], step["status"], step["error"]) == ("mock-chat", 200, None)
    for _ in range(100):  # the client went away: its subscription ends
        if not admin.gateway.events.subscribers:
            break
        await asyncio.sleep(0.02)
    assert admin.gateway.events.subscribers == []


async def test_events_keep_alive(admin: Admin) -> None:
    admin.gateway.admin.keepalive_seconds = 0.05
    url = f"{admin.url}{PREFIX}/events"
    async with admin.session.get(url, headers=admin.headers()) as response:
        assert await next_event(response.content) == ("comment", ": keep-alive")


async def test_events_refuse_a_token_in_the_query(admin: Admin) -> None:
    url = f"{admin.url}{PREFIX}/events?token=admin-test-key-0123456789"
    async with admin.session.get(url) as response:
        assert response.status == 401


def test_a_slow_subscriber_is_told_what_it_lost() -> None:
    hub = EventHub(limit=2)
    subscriber = hub.subscribe()
    for number in range(5):
        hub.publish(UsageRecord(request_id=f"r{number}", time=0.0, client_api="chat"))
    text = frames(subscriber).decode()
    assert text.count("event: request\n") == 2
    assert text.endswith('event: dropped\ndata: {"dropped":3}\n\n')
    assert frames(subscriber) == b""
    hub.unsubscribe(subscriber)
    hub.publish(UsageRecord(request_id="later", time=0.0, client_api="chat"))
    assert not subscriber.queue


async def test_playground_translates_without_calling(admin: Admin) -> None:
    calls = len(admin.gateway.health.known())
    body = {"model": "messages-model", "messages": [{"role": "user", "content": "hi"}]}
    status, answer, _ = await admin.call(
        "POST", "/playground", {"client_api": "chat", "body": body}
    )
    assert status == 200, answer
    assert answer["target"] == {"provider": "mock-messages", "model": "up-messages"}
    upstream = answer["upstream"]
    assert upstream["api"] == "messages" and upstream["passthrough"] is False
    assert upstream["url"].endswith("/v1/messages")
    assert upstream["body"]["model"] == "up-messages"
    assert upstream["body"]["messages"][0]["role"] == "user"
    assert UPSTREAM_KEY not in json.dumps(answer)
    assert len(admin.gateway.health.known()) == calls  # no call was made


async def test_playground_passthrough_and_gemini(admin: Admin) -> None:
    body = {"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]}
    _, answer, _ = await admin.call("POST", "/playground", {"client_api": "chat", "body": body})
    assert answer["upstream"]["passthrough"] is True
    assert answer["upstream"]["body"]["model"] == "up-chat"
    assert ENV_KEY not in json.dumps(answer)
    gemini = {"model": "chat-model", "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    status, answer, _ = await admin.call(
        "POST", "/playground", {"client_api": "gemini", "body": gemini}
    )
    assert status == 200, answer
    assert answer["upstream"]["api"] == "chat"
    content = answer["upstream"]["body"]["messages"][0]["content"]
    assert content in ("hi", [{"type": "text", "text": "hi"}])


@pytest.mark.parametrize(
    ("request_body", "status"),
    [
        ({"client_api": "chat", "body": {"model": "nope", "messages": []}}, 404),
        ({"client_api": "chat", "body": {"model": "messages-model"}}, 400),
        ({"client_api": "telnet", "body": {}}, 400),
        ({"client_api": "gemini", "body": {"contents": []}}, 400),
        ({"client_api": "chat"}, 400),
    ],
    ids=["unknown-model", "no-messages", "unknown-api", "gemini-no-model", "no-body"],
)
async def test_playground_refusals(admin: Admin, request_body: Any, status: int) -> None:
    got, answer, _ = await admin.call("POST", "/playground", request_body)
    assert got == status, answer
    assert answer["error"]["message"]


async def test_openapi_document_lists_every_endpoint(admin: Admin) -> None:
    status, document, _ = await admin.call("GET", "/openapi.json")
    assert status == 200
    assert document["openapi"] == "3.1.0"
    for endpoint in ENDPOINTS:
        operation = document["paths"][PREFIX + endpoint.pattern][endpoint.method.lower()]
        answered = operation["responses"][str(endpoint.status)]
        assert answered and operation["responses"]["401"]
    schemas = document["components"]["schemas"]
    _, view, _ = await admin.call("GET", "/config")
    assert set(schemas["ConfigView"]["required"]) == set(view)
    for name in ("ErrorBody", "Overview", "RequestView", "PlaygroundAnswer", "KeySecret"):
        assert name in schemas


async def test_shutdown_ends_live_streams_at_once(
    upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dashboard left open must not hold a restart for the whole grace period (uvicorn
    waits for every response to finish; a live stream never does)."""
    monkeypatch.setenv("PLEXUS_ADMIN_KEY", "k")
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(5):
            async with run_gateway(upstreams.config()) as url:
                response = await session.get(
                    f"{url}{PREFIX}/events", headers={"Authorization": "Bearer k"}
                )
                assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):  # closed, not finished: no more events
            await asyncio.wait_for(response.content.read(), 5)
        response.release()
