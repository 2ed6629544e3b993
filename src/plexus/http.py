"""Tiny ASGI helpers: typed aliases and response writers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def send_body(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete response."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*(headers or JSON_HEADERS), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def start_stream(send: Send, status: int = 200) -> None:
    """Send the head of an SSE response."""
    await send({"type": "http.response.start", "status": status, "headers": SSE_HEADERS})


async def send_chunk(send: Send, body: bytes) -> None:
    """Send part of a streamed body."""
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def end_stream(send: Send) -> None:
    """Finish a streamed body."""
    await send({"type": "http.response.body", "body": b"", "more_body": False})
