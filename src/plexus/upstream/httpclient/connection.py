"""One upstream socket as an asyncio protocol, its answers parsed by llhttp (httptools)."""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import httptools

from plexus.upstream.httpclient.errors import ConnectionBroken, ReadTimeout, TransportError

if TYPE_CHECKING:
    from plexus.upstream.httpclient.tunnel import Proxy

Origin = tuple[str, str, int, "str | None", "Proxy | None"]
"""Scheme, host, port, the pinned address (if any) and the proxy (if any): what a kept-alive
connection may be reused for."""

_HIGH_WATER = 1 << 20  # buffered body bytes before the socket stops being read
# Limits on an answer's head (peers: 8-16 KiB a line, ~100-128 fields, 16-64 KiB a head): an
# image host or provider must not make the worker join megabytes of header lines.
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 128
MAX_INFLATION = 100  # decompressed bytes per compressed byte before a body is refused


class _Refused(Exception):
    """An answer refused from inside a parser callback (which wraps it in
    HttpParserCallbackError): a head too large, a bomb, bytes nobody asked for."""


class Connection(asyncio.Protocol):
    """One upstream socket; serves one exchange at a time."""

    def __init__(
        self,
        origin: Origin,
        on_open: Callable[[Connection], None],
        on_lost: Callable[[Connection], None],
    ) -> None:
        self.origin = origin
        self._on_open = on_open
        self._on_lost = on_lost
        # The loop it was made in, kept: `asyncio.get_running_loop()` costs a getpid() system
        # call each time, and an exchange asked for it five times.
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.idle = False  # in the pool, between exchanges
        self._expiry: asyncio.TimerHandle | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self._repeated: dict[str, list[str]] = {}  # joined once, when the head is complete
        self._head_bytes = 0
        self._fields = 0
        self.head_done = False
        self.keep_alive = False
        self.done = False
        self.error: TransportError | None = None
        self.got_bytes = False
        self.last_data = 0.0
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._inflate: zlib._Decompress | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- the exchange, from the caller's side

    def send(self, data: bytes) -> None:
        self.idle = False
        self._reset()
        if self.transport is not None:
            self.transport.write(data)

    async def wait(self) -> None:
        """Wait until something changes: data, the end, an error, or `wake()`."""
        waiter = self._waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def expire_after(self, seconds: float) -> None:
        """Fail the exchange with ReadTimeout unless it completes within `seconds` (one timer,
        not a cancel scope: cheaper, and nothing to undo when it does not fire)."""
        self.stop_expiry()
        self._expiry = self.loop.call_later(seconds, self._expire, seconds)

    def stop_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def _expire(self, seconds: float) -> None:
        self._expiry = None
        if not self.done:
            self._fail(ReadTimeout(f"no answer within {seconds:g} s"))

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> bytes:
        """The body bytes that arrived since the last call (b"" when none did)."""
        if not self._body:
            return b""
        body = self._body
        data = body[0] if len(body) == 1 else b"".join(body)
        body.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    @property
    def reusable(self) -> bool:
        return self.done and self.keep_alive and not self.closed

    def close(self) -> None:
        self.closed = True
        self.stop_expiry()
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._on_open(self)

    def data_received(self, data: bytes) -> None:
        if self.idle:  # bytes nobody asked for: the next exchange could not be trusted
            self.close()
            return
        self.got_bytes = True
        self.last_data = self.loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            reason = error.__context__ if isinstance(error.__context__, _Refused) else error
            self._fail(ConnectionBroken(f"invalid HTTP from upstream: {reason}"))
            self.close()
        except httptools.HttpParserError as error:
            self._fail(ConnectionBroken(f"invalid HTTP from upstream: {error}"))
            self.close()
        except httptools.HttpParserUpgrade:
            self._fail(ConnectionBroken("upstream switched protocols (HTTP 101)"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._on_lost(self)
        if self.done:
            return
        if self.head_done and not self._framed():
            self._complete()  # the body was delimited by the close itself
        else:
            reason = f": {exc}" if exc else ""
            self._fail(ConnectionBroken(f"upstream closed the connection{reason}"))

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        if self.done:  # a second answer to one request: the connection cannot be trusted
            self.keep_alive = False
            raise _Refused("an answer nobody asked for followed the answer")

    def on_status(self, status: bytes) -> None:
        self._count(len(status))

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a chunked body's trailer: never part of the answer's head
        self._fields += 1
        self._count(len(name) + len(value))
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self.headers.get(key)
        if previous is None:
            self.headers[key] = text
        else:
            self._repeated.setdefault(key, [previous]).append(text)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _Refused(f"answer head larger than {MAX_HEAD_BYTES} bytes")
        if self._fields > MAX_HEADER_FIELDS:
            raise _Refused(f"answer head has more than {MAX_HEADER_FIELDS} fields")

    def on_headers_complete(self) -> None:
        for key, values in self._repeated.items():
            self.headers[key] = ", ".join(values)
        self._repeated = {}
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim answer: the real one follows
            self.headers = {}
            self._head_bytes = self._fields = 0
            return
        self.status = status
        self.head_done = True
        self.keep_alive = self._parser.should_keep_alive()  # only known while the head is fresh
        encoding = self.headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "deflate"):
            self._inflate = zlib.decompressobj(31 if encoding == "gzip" else zlib.MAX_WBITS)
        self.wake()

    def on_body(self, body: bytes) -> None:
        if self.done:
            return
        if self._inflate is not None:
            body = self._inflated(body)
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self.wake()

    def on_message_complete(self) -> None:
        if self.head_done:
            self._complete()

    # --

    def _inflated(self, body: bytes) -> bytes:
        """Decompress one body chunk, refusing a bomb without ever holding its output."""
        assert self._inflate is not None
        limit = len(body) * MAX_INFLATION + 65536
        data = self._inflate.decompress(body, limit)
        if self._inflate.unconsumed_tail:
            self._inflate = None
            self.keep_alive = False
            raise _Refused(f"compressed body inflates more than {MAX_INFLATION} times")
        return data

    def _framed(self) -> bool:
        coding = self.headers.get("transfer-encoding", "").lower()
        return "content-length" in self.headers or "chunked" in coding

    def _complete(self) -> None:
        if self._inflate is not None:
            tail = self._inflate.flush()
            if tail:
                self._body.append(tail)
        self.done = True
        self.stop_expiry()
        self.wake()

    def _fail(self, error: TransportError) -> None:
        if self.error is None:
            self.error = error
        self.wake()
