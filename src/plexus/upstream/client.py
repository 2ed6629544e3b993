"""Upstream HTTP: one connection pool per process, timeouts, cancellation.

The only module that calls upstreams; it maps transport failures to `GatewayError`s.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from plexus.config import TimeoutConfig
from plexus.errors import UpstreamTimeout, UpstreamUnreachable
from plexus.upstream import httpclient


@dataclass(slots=True)
class FullResponse:
    """A complete upstream answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class StreamingResponse:
    """An upstream answer whose body is read as it arrives, watched for silence."""

    def __init__(self, response: httpclient.Response, idle: float, ping: float) -> None:
        self._response = response
        self._idle = idle
        self._ping = min(ping, idle) if ping > 0 else idle
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield body bytes as they arrive, and b"" each time the upstream has been silent for
        the ping interval (so the caller can keep the client's connection alive); raise
        UpstreamTimeout once it has been silent for the idle limit.

        One timer watches the silence, re-armed only when it fires: no per-read timeout."""
        connection = self._response.connection
        loop = asyncio.get_running_loop()
        pinged = loop.time()
        timer = loop.call_at(pinged + self._ping, connection.wake)
        try:
            while True:
                data = connection.take()
                if data:
                    yield data
                    continue
                if connection.done:
                    return
                if connection.error is not None:
                    raise UpstreamUnreachable(f"upstream stream broke: {connection.error}")
                now = loop.time()
                heard = connection.last_data
                if now - heard >= self._idle:
                    raise UpstreamTimeout(f"upstream sent nothing for {self._idle:g} s")
                if now - max(heard, pinged) >= self._ping:
                    pinged = now
                    yield b""
                    continue
                if timer.when() <= now:
                    deadline = min(max(heard, pinged) + self._ping, heard + self._idle)
                    timer = loop.call_at(deadline, connection.wake)
                await connection.wait()
        finally:
            timer.cancel()

    async def read(self) -> bytes:
        """Read the whole remaining body (for error answers)."""
        try:
            async with asyncio.timeout(self._idle):
                return await self._response.read()
        except (TimeoutError, httpclient.TransportError):
            return b""


_MAX_REDIRECTS = 3


async def _refuse_private(url: str) -> None:
    """Raise unless every address `url`'s host resolves to is a public one."""
    host = urlsplit(url).hostname or ""
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
        self._pool: httpclient.Pool | None = None
        self.fetch_private = False  # set from server.media_private_hosts

    async def start(self) -> None:
        """Open the pool (inside the event loop)."""
        self._pool = httpclient.Pool(keepalive=60.0)

    async def close(self) -> None:
        """Close the pool and its connections."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> httpclient.Pool:
        """The live pool; `start()` must have run."""
        if self._pool is None:
            raise RuntimeError("Upstream.start() was not called")
        return self._pool

    async def full(
        self, url: str, headers: Mapping[str, str], body: bytes, timeouts: TimeoutConfig
    ) -> FullResponse:
        """POST and read the whole answer, all within the first-byte limit: a non-streamed
        answer's first byte comes when the generation is done."""
        response = await self._post(url, headers, body, timeouts)
        try:
            data = await response.read()
        except httpclient.ReadTimeout as error:
            raise _timed_out(timeouts) from error
        except httpclient.TransportError as error:
            raise UpstreamUnreachable(f"upstream connection broke: {error}") from error
        return FullResponse(response.status, response.headers, data)

    async def _post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeouts: TimeoutConfig
    ) -> httpclient.Response:
        """Send the request and wait for the answer's head (first-byte limit); map errors."""
        try:
            return await self.pool.request(
                "POST", url, headers, body, timeouts.connect, timeouts.first_byte
            )
        except httpclient.ConnectError as error:
            raise UpstreamUnreachable(str(error)) from error
        except httpclient.ConnectTimeout as error:
            raise UpstreamTimeout(f"upstream connect timed out: {error}") from error
        except httpclient.ReadTimeout as error:
            raise _timed_out(timeouts) from error
        except httpclient.TransportError as error:
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
                    response = await self.pool.request(
                        "GET", url, {"accept": "image/*"}, b"", seconds
                    )
                    location = response.headers.get("location")
                    if response.status in (301, 302, 303, 307, 308) and location:
                        response.close()
                        url = urljoin(url, location)
                        continue
                    if response.status >= 400:
                        response.close()
                        raise UpstreamUnreachable(f"fetching {url} answered HTTP {response.status}")
                    data = await response.read(limit)
                    if len(data) > limit:
                        raise UpstreamUnreachable(f"{url} is larger than {limit} bytes")
                    content_type = response.headers.get("content-type", "")
                    return content_type.split(";")[0].strip().lower(), data
                raise UpstreamUnreachable(f"{url}: too many redirects")
        except TimeoutError as error:
            raise UpstreamTimeout(f"fetching {url} took longer than {seconds:g} s") from error
        except httpclient.TransportError as error:
            raise UpstreamUnreachable(f"cannot fetch {url}: {error}") from error

    @asynccontextmanager
    async def stream(
        self, url: str, headers: Mapping[str, str], body: bytes, timeouts: TimeoutConfig
    ) -> AsyncIterator[StreamingResponse]:
        """POST and hand over the answer once its head arrived; the connection is released
        (or closed, when the body was not read to the end) on exit, also on cancellation."""
        response = await self._post(url, headers, body, timeouts)
        response.connection.stop_expiry()  # from here on the idle limit applies
        try:
            yield StreamingResponse(response, timeouts.idle, timeouts.ping)
        except BaseException:
            response.close()  # cancelled or broken mid-body: drop the connection, never reuse it
            raise
        response.release()


def _timed_out(timeouts: TimeoutConfig) -> UpstreamTimeout:
    return UpstreamTimeout(f"upstream did not answer within {timeouts.first_byte:g} s")
