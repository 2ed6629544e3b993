"""Tiny ASGI helpers: typed aliases and response writers."""

from __future__ import annotations

import asyncio
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
    extra: tuple[tuple[bytes, bytes], ...] = (),
    head_only: bool = False,
) -> None:
    """Send a complete response (`extra`: headers every answer carries, e.g. x-request-id;
    `head_only`: the answer to a HEAD request, the length of `body` without it)."""
    length = (b"content-length", str(len(body)).encode())
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*(headers or JSON_HEADERS), *extra, length],
        }
    )
    await send(
        {"type": "http.response.body", "body": b"" if head_only else body, "more_body": False}
    )


async def send_no_content(send: Send, headers: list[tuple[bytes, bytes]]) -> None:
    """Send a 204 answer."""
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def start_stream(
    send: Send, status: int = 200, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Send the head of an SSE response."""
    headers = [*SSE_HEADERS, *extra] if extra else SSE_HEADERS
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def send_chunk(send: Send, body: bytes) -> None:
    """Send part of a streamed body."""
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def end_stream(send: Send, tail: bytes = b"") -> None:
    """Finish a streamed body (with `tail`, its last part)."""
    await send({"type": "http.response.body", "body": tail, "more_body": False})


DISCONNECT_HOOK = "plexus.disconnect"  # the scope extension of a server that tells (server.py)


class DisconnectHook:
    """Set by the server as `scope["extensions"]["plexus.disconnect"]["hook"]`: it calls
    `callback` when the client goes away before its answer is complete (so no task has to wait
    on `receive()` to learn it)."""

    __slots__ = ("callback", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop  # the server's: `asyncio.get_running_loop()` costs a system call
        self.callback: Callable[[], None] | None = None

    def fire(self) -> None:
        callback, self.callback = self.callback, None
        if callback is not None:
            callback()


class CancelOnDisconnect:
    """Cancel the current task when the client goes away, so the upstream call is dropped;
    `disconnected` tells that cancellation from any other.

    A class rather than a @contextmanager generator: it is entered once per request. With a
    server that offers the `DisconnectHook`, the server tells; otherwise a task watches
    `receive()` for `http.disconnect`."""

    __slots__ = ("_finished", "_hook", "_receive", "_task", "_watcher", "disconnected")

    def __init__(self, receive: Receive, scope: Scope | None = None) -> None:
        self._receive = receive
        extensions = scope.get("extensions") if scope is not None else None
        extension = extensions.get(DISCONNECT_HOOK) if extensions else None
        hook = extension.get("hook") if extension else None
        self._hook = hook if isinstance(hook, DisconnectHook) else None
        self._watcher: asyncio.Future[None] | None = None
        self._finished = False
        self.disconnected = False

    def __enter__(self) -> CancelOnDisconnect:
        if self._hook is not None:
            self._task = asyncio.current_task(self._hook.loop)
            self._hook.callback = self._gone
        else:
            self._task = asyncio.current_task()
            self._watcher = asyncio.ensure_future(self._watch())
        return self

    def __exit__(self, *_: object) -> None:
        self._finished = True
        if self._hook is not None:
            self._hook.callback = None
        if self._watcher is not None:
            self._watcher.cancel()

    def _gone(self) -> None:
        if not self._finished and self._task is not None:
            self.disconnected = True
            self._task.cancel()

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._gone()
                return
