"""Upstream HTTP: one pooled aiohttp session per process, timeouts, cancellation.

The only module that knows aiohttp's client exceptions; it maps them to `GatewayError`s.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import yarl

from plexus.config import TimeoutConfig
from plexus.errors import GatewayError, UpstreamTimeout, UpstreamUnreachable

_NO_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=None, sock_read=None, sock_connect=None)


@dataclass(slots=True)
class FullResponse:
    """A complete upstream answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class StreamingResponse:
    """An upstream answer whose body is read chunk by chunk, each read bounded by `idle`."""

    def __init__(self, response: aiohttp.ClientResponse, idle: float, ping: float) -> None:
        self._response = response
        self._idle = idle
        self._ping = min(ping, idle) if ping > 0 else idle
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield body chunks as they arrive, and b"" each time the upstream has been silent for
        the ping interval (so the caller can keep the client's connection alive); raise
        UpstreamTimeout once it has been silent for the idle limit."""
        content = self._response.content
        silent = 0.0
        while True:
            wait = min(self._ping, self._idle - silent)
            try:
                async with asyncio.timeout(wait):
                    chunk = await content.readany()
            except TimeoutError as error:
                silent += wait
                if silent >= self._idle:
                    raise UpstreamTimeout(f"upstream sent nothing for {self._idle:g} s") from error
                yield b""
                continue
            except aiohttp.ClientError as error:
                raise UpstreamUnreachable(f"upstream stream broke: {error}") from error
            if not chunk:
                return
            silent = 0.0
            yield chunk

    async def read(self) -> bytes:
        """Read the whole remaining body (for error answers)."""
        try:
            async with asyncio.timeout(self._idle):
                return await self._response.read()
        except (TimeoutError, aiohttp.ClientError):
            return b""


@functools.lru_cache(maxsize=64)
def _connect_timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, sock_connect=seconds, connect=seconds)


_MAX_REDIRECTS = 3


async def _refuse_private(url: str) -> None:
    """Raise unless every address `url`'s host resolves to is a public one."""
    host = yarl.URL(url).host or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as error:
        raise UpstreamUnreachable(f"cannot resolve {host}: {error}") from error
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise UpstreamUnreachable(f"{host} resolves to a private address ({address})")


class Upstream:
    """The pooled client every request goes through."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.fetch_private = False  # set from server.media_private_hosts

    async def start(self) -> None:
        """Open the pool (inside the event loop)."""
        connector = aiohttp.TCPConnector(
            limit=0, keepalive_timeout=60.0, ttl_dns_cache=300, enable_cleanup_closed=True
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=_NO_TIMEOUT,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        """Close the pool and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The live session; `start()` must have run."""
        if self._session is None:
            raise RuntimeError("Upstream.start() was not called")
        return self._session

    async def full(
        self, url: str, headers: Mapping[str, str], body: bytes, timeouts: TimeoutConfig
    ) -> FullResponse:
        """POST and read the whole answer, all within the first-byte limit: a non-streamed
        answer's first byte comes when the generation is done."""
        try:
            async with asyncio.timeout(timeouts.first_byte):
                response = await self._post(url, headers, body, timeouts)
                try:
                    data = await response.read()
                except BaseException:
                    response.close()
                    raise
        except TimeoutError as error:
            raise UpstreamTimeout(
                f"upstream did not answer within {timeouts.first_byte:g} s"
            ) from error
        except aiohttp.ClientError as error:
            raise UpstreamUnreachable(f"upstream connection broke: {error}") from error
        return FullResponse(response.status, response.headers, data)

    async def _post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeouts: TimeoutConfig
    ) -> aiohttp.ClientResponse:
        """Send the request and wait for the answer's headers; map connection errors."""
        try:
            return await self.session.post(
                url, data=body, headers=headers, timeout=_connect_timeout(timeouts.connect)
            )
        except aiohttp.ClientConnectorError as error:
            raise UpstreamUnreachable(f"cannot connect to upstream: {error.os_error}") from error
        except aiohttp.ServerTimeoutError as error:
            raise UpstreamTimeout(f"upstream connect timed out: {error}") from error
        except aiohttp.ClientError as error:
            raise UpstreamUnreachable(f"upstream request failed: {error}") from error

    async def fetch(self, url: str, limit: int, seconds: float) -> tuple[str, bytes]:
        """GET a small resource (an image to inline); return its content type and bytes.

        Redirects are followed by hand so every hop is checked: unless `fetch_private` is set,
        a host resolving to a loopback, private, link-local or reserved address is refused."""
        try:
            async with asyncio.timeout(seconds):
                for _ in range(_MAX_REDIRECTS + 1):
                    if not self.fetch_private:
                        await _refuse_private(url)
                    async with self.session.get(
                        url, headers={"accept": "image/*"}, allow_redirects=False
                    ) as response:
                        location = response.headers.get("location")
                        if response.status in (301, 302, 303, 307, 308) and location:
                            url = str(response.url.join(yarl.URL(location)))
                            continue
                        if response.status >= 400:
                            raise UpstreamUnreachable(
                                f"fetching {url} answered HTTP {response.status}"
                            )
                        data = await response.content.read(limit + 1)
                        if len(data) > limit:
                            raise UpstreamUnreachable(f"{url} is larger than {limit} bytes")
                        return response.content_type, data
                raise UpstreamUnreachable(f"{url}: too many redirects")
        except TimeoutError as error:
            raise UpstreamTimeout(f"fetching {url} took longer than {seconds:g} s") from error
        except aiohttp.ClientError as error:
            raise UpstreamUnreachable(f"cannot fetch {url}: {error}") from error

    @asynccontextmanager
    async def stream(
        self, url: str, headers: Mapping[str, str], body: bytes, timeouts: TimeoutConfig
    ) -> AsyncIterator[StreamingResponse]:
        """POST and hand over the answer once its headers arrived; the connection is released
        (or closed, when the body was not read to the end) on exit, also on cancellation."""
        try:
            async with asyncio.timeout(timeouts.first_byte):
                response = await self._post(url, headers, body, timeouts)
        except TimeoutError as error:
            raise UpstreamTimeout(
                f"upstream did not answer within {timeouts.first_byte:g} s"
            ) from error
        try:
            yield StreamingResponse(response, timeouts.idle, timeouts.ping)
        except GatewayError:
            response.close()
            raise
        except BaseException:
            response.close()  # cancelled or broken mid-body: drop the connection, never reuse it
            raise
        else:
            response.release()
