"""The bare forwarder: the practical limit of a Python gateway (not part of the product).

uvicorn + one plain ASGI callable + one aiohttp ClientSession + msgspec. It forwards each client
request to the same protocol upstream (no translation): decodes the JSON body, maps the model
(``bench-chat-e300`` -> ``m-e300``, anything else unchanged), re-encodes it; decodes and re-encodes
the JSON response, or every SSE ``data:`` payload of a stream, writing all the events of one
upstream read in one ``send`` (coalesced). Upstream base URL from ``BARE_UPSTREAM``
(e.g. ``http://127.0.0.1:8000/v1``).

Run: ``uvicorn --app-dir bench bare_forwarder:app --port P [--workers N]``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
import msgspec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

UPSTREAM = os.environ.get("BARE_UPSTREAM", "http://127.0.0.1:8000/v1").rstrip("/")
ROUTES = {
    "/v1/chat/completions": UPSTREAM + "/chat/completions",
    "/v1/messages": UPSTREAM + "/messages",
    "/v1/responses": UPSTREAM + "/responses",
}
UP_HEADERS = {
    "content-type": "application/json",
    "authorization": "Bearer x",
    "x-api-key": "x",
    "anthropic-version": "2023-06-01",
}
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
DEC = msgspec.json.Decoder()
ENC = msgspec.json.Encoder()
_session: aiohttp.ClientSession | None = None


def map_model(alias: str) -> str:
    if alias.startswith("bench-"):
        parts = alias.split("-", 2)
        return "m" + ("-" + parts[2] if len(parts) > 2 else "")
    return alias


def session() -> aiohttp.ClientSession:
    global _session
    if _session is None:
        _session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120),
        )
    return _session


async def read_request(receive: Receive) -> tuple[dict[str, Any], str]:
    """The client's body decoded, its model mapped to the mock's; and the alias it asked for."""
    chunks = []
    more = True
    while more:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        more = msg.get("more_body", False)
    req: dict[str, Any] = DEC.decode(b"".join(chunks))
    alias = req.get("model", "")
    req["model"] = map_model(alias)
    return req, alias


async def _simple(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _reencode_events(block: bytes) -> bytes:
    out = []
    for event in block.split(b"\n\n"):
        if not event:
            continue
        lines = []
        for line in event.split(b"\n"):
            if line.startswith(b"data: ") and line[6:] != b"[DONE]":
                lines.append(b"data: " + ENC.encode(DEC.decode(line[6:])))
            else:
                lines.append(line)
        out.append(b"\n".join(lines) + b"\n\n")
    return b"".join(out)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                if os.environ.get("BARE_GC_FREEZE"):
                    gc.collect()
                    gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                if _session is not None:
                    await _session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if scope["method"] == "GET":
        await _simple(send, 200, b'{"status":"ok"}')
        return
    url = ROUTES.get(path)
    if url is None:
        await _simple(send, 404, b'{"error":"not found"}')
        return
    req, alias = await read_request(receive)
    stream = req.get("stream") is True
    async with session().post(url, data=ENC.encode(req), headers=UP_HEADERS) as resp:
        if not stream or resp.status != 200:
            data = await resp.read()
            if resp.status == 200:
                obj = DEC.decode(data)
                obj["model"] = alias
                data = ENC.encode(obj)
            await _simple(send, resp.status, data)
            return
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        buf = b""
        async for chunk in resp.content.iter_any():
            buf += chunk
            cut = buf.rfind(b"\n\n")
            if cut < 0:
                continue
            block, buf = buf[: cut + 2], buf[cut + 2 :]
            await send(
                {"type": "http.response.body", "body": _reencode_events(block), "more_body": True}
            )
        if buf.strip():
            await send(
                {"type": "http.response.body", "body": _reencode_events(buf), "more_body": True}
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})
