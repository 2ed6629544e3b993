"""The HTTP server's edge: what uvicorn's httptools protocol lacks against hostile clients.

A request's head (request line and headers) is limited in size (431) and must arrive within a
deadline (408): unauthenticated clients could otherwise send a 256 MiB head (76 s of parsing,
512 MiB of memory) or hold hundreds of connections open a byte at a time (slowloris).
"""

from __future__ import annotations

import asyncio
import resource
from collections import deque
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from plexus.http import DISCONNECT_HOOK, DisconnectHook
from plexus.routes import ADMIN_PREFIX

LIVE_EVENTS_PATH = ADMIN_PREFIX + "/events"


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """Limits on a client's request head."""

    max_head_bytes: int = 64 * 1024
    head_timeout: float = 10.0


_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
_LINGER = 1.0  # seconds a refused client's bytes are read and dropped before the close


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size limit and a deadline on every request head.

    The limits come from the app (`edge_limits`, so a config reload applies to new
    connections); a head is counted from its first byte to its end, across reads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = _edge_limits(self.app)
        self._max_head = limits.max_head_bytes
        self._head_timeout = limits.head_timeout
        self._in_head = True  # before a request's headers are complete
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        # The hooks of the requests whose answers are not complete, oldest first (pipelined
        # requests are answered in order).
        self._hooks: deque[DisconnectHook] = deque()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        hooks, self._hooks = self._hooks, deque()
        for hook in hooks:
            hook.fire()

    def shutdown(self) -> None:
        """Begin a graceful shutdown; the admin API's live event stream, which never ends on
        its own, is closed at once instead of holding the exit for the whole grace period."""
        cycle = self.cycle
        live = cycle is not None and cycle.scope["path"] == LIVE_EVENTS_PATH
        if live and cycle is not None and not cycle.response_complete:
            self.transport.close()
            return
        super().shutdown()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped, so the close does not reset the answer away
        if not self._in_head:
            super().data_received(data)
            return
        room = self._max_head - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            super().data_received(data)
            return
        # Feed what the head may still take: if it does not end there, the head is too big.
        self._head_bytes = self._max_head
        super().data_received(data[:room])
        if self.transport.is_closing():
            return
        if self._in_head:
            self._refuse(431, f"request head larger than {self._max_head} bytes")
            return
        super().data_received(data[room:])

    def on_message_begin(self) -> None:
        if not self._in_head:
            self._in_head = True
            self._arm()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._disarm()
        hook = DisconnectHook(self.loop)
        extensions = self.scope.setdefault("extensions", {})
        extensions[DISCONNECT_HOOK] = {"hook": hook}
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is not cycle:  # a request to answer (not an upgrade)
            self._hooks.append(hook)
            # uvicorn's own transport, wrapped: the answer's head waits for its body.
            self.cycle.transport = HeadHoldingTransport(self.transport, self.loop)  # type: ignore[assignment]

    def on_response_complete(self) -> None:
        if self._hooks:
            self._hooks.popleft()
        super().on_response_complete()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, f"request head not received within {self._head_timeout:g} s")

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` and close; the client's further bytes are drained for a moment
        first (a lingering close): closing with unread bytes would reset the connection and
        the client would never read why."""
        self._refused = True
        self._disarm()
        body = message.encode()
        transport = self.transport
        transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, _REASONS[status], len(body), body)
        )
        if transport.can_write_eof():
            transport.write_eof()
            self.loop.call_later(_LINGER, transport.close)
        else:
            transport.close()


class HeadHoldingTransport:
    """One answer's view of its connection, which holds the answer's head (its first write)
    until the first part of its body, or until the event loop's next turn: a whole answer
    goes out in one write, one system call and one TCP segment instead of two (uvicorn
    writes the head as soon as the app starts the answer)."""

    __slots__ = ("_held", "_loop", "_transport", "_waiting_head")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held = b""
        self._waiting_head = True

    def write(self, data: bytes) -> None:
        if self._waiting_head:
            self._waiting_head = False
            self._held = data
            self._loop.call_soon(self.flush)  # a stream's head must not wait for its first event
            return
        held = self._held
        if held:
            self._held = b""
            data = held + data
        self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held:
            self._held = b""
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _edge_limits(app: Any) -> EdgeLimits:
    """The app's `edge_limits`, looking through middleware that wraps it (`.app`)."""
    for _ in range(8):
        limits = getattr(app, "edge_limits", None)
        if isinstance(limits, EdgeLimits):
            return limits
        app = getattr(app, "app", None)
        if app is None:
            break
    return EdgeLimits()


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (each stream holds two
    sockets; the usual soft limit of 1024 caps a worker near 500 streams); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            return soft
    return soft
