"""A small ASGI app the interoperability tests serve with real servers (uvicorn, hypercorn,
granian, and behind nginx): echo, a streamed answer, the peer's port, a large body."""

from __future__ import annotations

import asyncio
from typing import Any

Scope = dict[str, Any]
Receive = Any
Send = Any

CHUNKS = [b"data: %d\n\n" % n for n in range(5)]
BIG = b"0123456789abcdef" * 65536  # 1 MiB


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Route by path; lifespan events are acknowledged."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    match scope["path"]:
        case "/echo":
            await _whole(send, body)
        case "/peer":
            await _whole(send, str(scope["client"][1]).encode())
        case "/big":
            await _whole(send, BIG)
        case "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream")]})  # fmt: skip
            for chunk in CHUNKS:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": b""})
        case _:
            await _whole(send, b"not found", 404)


async def _whole(send: Send, body: bytes, status: int = 200) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
