"""Keep-alive connections per origin, the request line and head, and the answer's reader."""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

from plexus.upstream.httpclient.connection import Connection, Origin
from plexus.upstream.httpclient.errors import (
    ConnectError,
    ConnectionBroken,
    ConnectTimeout,
    LocalResourceError,
    PoolFull,
)
from plexus.upstream.httpclient.tunnel import Proxy, open_tunnel

_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"
_RESERVED = frozenset({"host", "content-length", "transfer-encoding", "connection"})
# Identity: a compressed stream would be held back by the compressor, and no header at all
# lets a server pick any coding. gzip and deflate are still undone should one be sent anyway.
_DEFAULT_HEADERS = (("accept-encoding", "identity"), ("user-agent", "plexus"))
# Failures of this process, not of the upstream: out of descriptors, buffers or memory.
_LOCAL_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
MAX_PER_ORIGIN = 1024  # connections open at once to one origin, by default


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    host_header: str

    @property
    def absolute(self) -> str:
        """The absolute form of the request target, as a plain-HTTP proxy takes it."""
        return f"{self.scheme}://{self.host_header}{self.path}"


@lru_cache(maxsize=1024)
def _target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectError(f"not an http(s) URL: {url}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    default_port = parts.port is None or port == (443 if secure else 80)
    host = parts.hostname
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise ConnectError(f"invalid host name in {url}") from error
    netloc = f"[{host}]" if ":" in host else host
    # Spaces and non-ASCII in a user's URL (an image to fetch) are escaped, escapes kept.
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_PATH_SAFE)
    return _Target(parts.scheme, host, port, path, netloc if default_port else f"{netloc}:{port}")


def _request_head(
    method: str,
    target: _Target,
    headers: Mapping[str, str],
    size: int,
    proxy: Proxy | None = None,
) -> bytes:
    """The request line and head; through a plain-HTTP `proxy`, in absolute form."""
    path = target.absolute if proxy is not None else target.path
    lines = [f"{method} {path} HTTP/1.1\r\nhost: {target.host_header}\r\n"]
    if proxy is not None and proxy.authorization:
        lines.append(f"proxy-authorization: {proxy.authorization}\r\n")
    given = set()
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ConnectError(f"header {name!r} contains a line break")
        lowered = name.lower()
        if lowered not in _RESERVED:
            given.add(lowered)
            lines.append(f"{name}: {value}\r\n")
    for name, value in _DEFAULT_HEADERS:
        if name not in given:
            lines.append(f"{name}: {value}\r\n")
    lines.append(f"content-length: {size}\r\n\r\n")
    try:
        return "".join(lines).encode("latin-1")
    except UnicodeEncodeError as error:
        raise ConnectError(f"a header holds a character outside Latin-1: {error}") from error


class Response:
    """An answer whose head has arrived; its body is read with `read()` or `take()`/`wait()`.

    Call `release()` once done with it, or `close()` to drop the connection."""

    def __init__(self, pool: Pool, connection: Connection) -> None:
        self._pool = pool
        self.connection = connection
        self.status = connection.status
        self.headers: Mapping[str, str] = connection.headers

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body, or its first `limit` + 1 bytes (then the connection is dropped)."""
        connection = self.connection
        parts: list[bytes] = []
        size = 0
        while True:
            data = connection.take()
            if data:
                parts.append(data)
                size += len(data)
                if limit is not None and size > limit:
                    self.close()
                    break
                continue
            if connection.done:
                self.release()
                break
            if connection.error is not None:
                self.close()
                raise connection.error
            try:
                await connection.wait()
            except BaseException:
                self.close()  # cancelled: the upstream must see us go
                raise
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def release(self) -> None:
        """Return the connection to the pool if it can serve another request, else close it."""
        self._pool.put_back(self.connection)

    def close(self) -> None:
        self.connection.close()


class Pool:
    """Keep-alive connections per origin, at most `max_per_origin` open at once to each (a
    request waits for one to free up, within its connect timeout)."""

    def __init__(
        self,
        keepalive: float = 60.0,
        tls: ssl.SSLContext | None = None,
        max_per_origin: int = MAX_PER_ORIGIN,
    ) -> None:
        self.keepalive = keepalive
        self.max_per_origin = max_per_origin
        self._idle: dict[Origin, list[Connection]] = {}
        self._open: set[Connection] = set()
        self._counts: dict[Origin, int] = {}  # open or opening, per origin
        self._waiters: dict[Origin, deque[asyncio.Future[None]]] = {}
        self._ssl = tls  # the system's trust store unless given
        self._sweeper: asyncio.TimerHandle | None = None

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        connect_timeout: float,
        answer_within: float | None = None,
        *,
        address: str | None = None,
        proxy: Proxy | None = None,
    ) -> Response:
        """Send a request and wait for the head of its answer; with `answer_within`, it must
        be complete within that many seconds of sending (`Connection.stop_expiry()` lifts it,
        e.g. once a stream's head is in). `address` pins the IP address to connect to (the
        host name still goes in SNI and Host); `proxy` goes through an HTTP proxy: a CONNECT
        tunnel for TLS or a pinned address, the absolute form otherwise.

        A kept-alive connection the server closed meanwhile is replaced, when it broke
        before a single byte of the answer came back (the request never reached a handler)."""
        target = _target(url)
        absolute = proxy if proxy is not None and target.scheme == "http" and not address else None
        data = _request_head(method, target, headers, len(body), absolute) + body
        origin: Origin = (target.scheme, target.host, target.port, address, proxy)
        deadline = None  # only needed when no kept-alive connection is free
        while True:
            connection = self._take_idle(origin)
            reused = connection is not None
            if connection is None:
                if self._counts.get(origin, 0) >= self.max_per_origin:
                    if deadline is None:
                        deadline = asyncio.get_running_loop().time() + connect_timeout
                    await self._wait_for_slot(origin, deadline)
                    continue
                connection = await self._connect(origin, connect_timeout)
            try:
                connection.send(data)
                if answer_within is not None:
                    connection.expire_after(answer_within)
                while not connection.head_done:
                    if connection.error is not None:
                        raise connection.error
                    await connection.wait()
            except ConnectionBroken:
                connection.close()
                if reused and not connection.got_bytes:
                    continue
                raise
            except BaseException:
                connection.close()  # cancelled or failed: the upstream must see us go
                raise
            return Response(self, connection)

    def put_back(self, connection: Connection) -> None:
        connection.stop_expiry()
        if not connection.reusable or connection.take():
            connection.close()
            return
        loop = connection.loop
        connection.idle_since = loop.time()
        connection.idle = True
        self._idle.setdefault(connection.origin, []).append(connection)
        self._wake_one(connection.origin)
        if self._sweeper is None:
            self._sweeper = loop.call_later(self.keepalive / 2, self._sweep)

    async def close(self) -> None:
        """Close every idle connection."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    @property
    def idle_count(self) -> int:
        return sum(len(c) for c in self._idle.values())

    @property
    def busy_count(self) -> int:
        """Open connections serving an exchange (not idle in the pool)."""
        return len(self._open) - self.idle_count

    def _take_idle(self, origin: Origin) -> Connection | None:
        connections = self._idle.get(origin)
        while connections:
            connection = connections.pop()
            if not connection.closed:
                return connection
        return None

    def _sweep(self) -> None:
        """Close connections idle for longer than the keep-alive time."""
        loop = asyncio.get_running_loop()
        oldest = loop.time() - self.keepalive
        for origin, connections in list(self._idle.items()):
            alive = []
            for connection in connections:
                if connection.closed or connection.idle_since < oldest:
                    connection.close()
                else:
                    alive.append(connection)
            if alive:
                self._idle[origin] = alive
            else:
                del self._idle[origin]
        self._sweeper = loop.call_later(self.keepalive / 2, self._sweep) if self._idle else None

    async def _wait_for_slot(self, origin: Origin, deadline: float) -> None:
        """Wait until a connection to `origin` is put back or closed; PoolFull at `deadline`."""
        waiter = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(origin, deque())
        waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter
        except TimeoutError as error:
            host, port = origin[1], origin[2]
            raise PoolFull(
                f"all {self.max_per_origin} connections to {host}:{port} are busy"
            ) from error
        finally:
            if waiter in waiters:
                waiters.remove(waiter)

    def _wake_one(self, origin: Origin) -> None:
        waiters = self._waiters.get(origin)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _opened(self, connection: Connection) -> None:
        self._open.add(connection)

    def _lost(self, connection: Connection) -> None:
        self._open.discard(connection)
        self._release_count(connection.origin)

    def _release_count(self, origin: Origin) -> None:
        left = self._counts.get(origin, 1) - 1
        if left > 0:
            self._counts[origin] = left
        else:
            self._counts.pop(origin, None)
        self._wake_one(origin)

    async def _connect(self, origin: Origin, limit: float) -> Connection:
        self._counts[origin] = self._counts.get(origin, 0) + 1
        connection = Connection(origin, self._opened, self._lost)
        try:
            async with asyncio.timeout(limit if limit > 0 else None):
                await self._open_connection(connection)
            return connection
        except BaseException as error:
            if connection.transport is None:
                self._release_count(origin)
            else:
                connection.close()  # its connection_lost releases the count
            where = f"{origin[1]}:{origin[2]}"
            if isinstance(error, TimeoutError):
                raise ConnectTimeout(f"connecting to {where} took over {limit:g} s") from error
            if isinstance(error, OSError) and error.errno in _LOCAL_ERRNOS:
                raise LocalResourceError(f"cannot open a connection: {error}") from error
            if isinstance(error, OSError | ssl.SSLError):
                raise ConnectError(f"cannot connect to {where}: {error}") from error
            raise

    async def _open_connection(self, connection: Connection) -> None:
        scheme, host, port, address, proxy = connection.origin
        loop = asyncio.get_running_loop()
        tls = self._tls() if scheme == "https" else None
        if proxy is None or (scheme == "http" and address is None):
            # Direct, or a plain-HTTP origin through a proxy (requests in absolute form).
            to_host, to_port = (proxy.host, proxy.port) if proxy else (address or host, port)
            await loop.create_connection(
                lambda: connection, to_host, to_port, ssl=tls, server_hostname=host if tls else None
            )
            return
        # A tunnel: to the pinned address when there is one, so the proxy resolves nothing.
        transport = await open_tunnel(proxy, address or host, port)
        if tls is None:
            transport.set_protocol(connection)
            connection.connection_made(transport)
            return
        try:
            secure = await loop.start_tls(transport, connection, tls, server_hostname=host)
        except BaseException:
            transport.close()
            raise
        assert secure is not None
        connection.connection_made(secure)

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
            self._ssl.set_alpn_protocols(["http/1.1"])
        return self._ssl
