"""Keep-alive connections per origin, the request line and head, and the answer's reader."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

from plexus.upstream.httpclient.connection import Connection
from plexus.upstream.httpclient.errors import ConnectError, ConnectionBroken, ConnectTimeout

_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"
_RESERVED = frozenset({"host", "content-length", "transfer-encoding", "connection"})
# Identity: a compressed stream would be held back by the compressor, and no header at all
# lets a server pick any coding. gzip and deflate are still undone should one be sent anyway.
_DEFAULT_HEADERS = (("accept-encoding", "identity"), ("user-agent", "plexus"))


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    host_header: str


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


def _request_head(method: str, target: _Target, headers: Mapping[str, str], size: int) -> bytes:
    lines = [f"{method} {target.path} HTTP/1.1\r\nhost: {target.host_header}\r\n"]
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
    """Keep-alive connections per origin; no limit on how many are open at once."""

    def __init__(self, keepalive: float = 60.0, tls: ssl.SSLContext | None = None) -> None:
        self.keepalive = keepalive
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._open: set[Connection] = set()
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
    ) -> Response:
        """Send a request and wait for the head of its answer; with `answer_within`, it must
        be complete within that many seconds of sending (`Connection.stop_expiry()` lifts it,
        e.g. once a stream's head is in).

        A kept-alive connection the server closed meanwhile is replaced, when it broke
        before a single byte of the answer came back (the request never reached a handler)."""
        target = _target(url)
        data = _request_head(method, target, headers, len(body)) + body
        origin = (target.scheme, target.host, target.port)
        while True:
            connection = self._take_idle(origin)
            reused = connection is not None
            if connection is None:
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
        loop = asyncio.get_running_loop()
        connection.idle_since = loop.time()
        connection.idle = True
        self._idle.setdefault(connection.origin, []).append(connection)
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

    def _take_idle(self, origin: tuple[str, str, int]) -> Connection | None:
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

    async def _connect(self, origin: tuple[str, str, int], limit: float) -> Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = self._tls() if scheme == "https" else None
        try:
            async with asyncio.timeout(limit if limit > 0 else None):
                _, connection = await loop.create_connection(
                    lambda: Connection(origin, self._open),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                )
        except TimeoutError as error:
            raise ConnectTimeout(f"connecting to {host}:{port} took over {limit:g} s") from error
        except (OSError, ssl.SSLError) as error:
            raise ConnectError(f"cannot connect to {host}:{port}: {error}") from error
        return connection

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
            self._ssl.set_alpn_protocols(["http/1.1"])
        return self._ssl
