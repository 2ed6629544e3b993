"""Outbound HTTP proxies: the proxy's address and credentials, and the CONNECT handshake."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from plexus.upstream.httpclient.errors import ConnectError

_MAX_REPLY = 16 * 1024


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy: `http://[user:password@]host:port`."""

    host: str
    port: int
    authorization: str | None = None  # the Proxy-Authorization value (Basic)

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        """Parse a proxy URL; only plain-HTTP proxies (CONNECT for TLS origins) are taken."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ConnectError(f"unsupported proxy URL {url!r}: expected http://host:port")
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return cls(parts.hostname, parts.port or 80, authorization)

    def __repr__(self) -> str:  # never the credentials
        return f"Proxy({self.host}:{self.port})"


class _Handshake(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT, up to the end of its head."""

    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.extra = False
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end >= 0 and not self.reply.done():
            self.extra = len(self._buffer) > end + 4  # a refusal's body, or bytes too early
            self.reply.set_result(self._buffer[:end])
        elif len(self._buffer) > _MAX_REPLY and not self.reply.done():
            self.reply.set_exception(ConnectError("the proxy's answer to CONNECT is too long"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.reply.done():
            self.reply.set_exception(ConnectError("the proxy closed the connection"))


async def open_tunnel(proxy: Proxy, host: str, port: int) -> asyncio.Transport:
    """Connect to `proxy` and ask it for a tunnel to `host:port`; return the raw transport,
    which then carries the origin's own bytes (TLS included) end to end."""
    loop = asyncio.get_running_loop()
    transport, handshake = await loop.create_connection(_Handshake, proxy.host, proxy.port)
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n"]
    if proxy.authorization:
        lines.append(f"proxy-authorization: {proxy.authorization}\r\n")
    transport.write(("".join(lines) + "\r\n").encode("latin-1"))
    try:
        head = await handshake.reply
    except BaseException:
        transport.close()
        raise
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or parts[1] != "200":
        transport.close()
        raise ConnectError(f"the proxy refused the tunnel to {authority}: {status_line[:100]}")
    if handshake.extra:  # the origin's bytes before our request: not a tunnel to trust
        transport.close()
        raise ConnectError("the proxy sent bytes after its answer to CONNECT")
    return transport
