"""Upstream HTTP: one connection pool per process, timeouts, cancellation, proxies.

The only module that calls providers; it maps transport failures to `GatewayError`s, telling
the client what failed and keeping addresses and errnos for the log (`detail`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from plexus.config import TimeoutConfig
from plexus.errors import Overloaded, UpstreamTimeout, UpstreamUnreachable
from plexus.redact import NONE, Redactor
from plexus.upstream import httpclient
from plexus.upstream.proxies import ProxyChoice


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

        One timer watches the silence, re-armed only when it fires: no per-read timeout. A
        timer may fire a little early (uvloop rounds to milliseconds), so deadlines count as
        reached within `_EARLY`, and a timer that fired is always re-armed (issue 10)."""
        connection = self._response.connection
        loop = asyncio.get_running_loop()
        idle, ping = self._idle, self._ping
        pinged = loop.time()
        fired = False

        def ring() -> None:
            nonlocal fired
            fired = True
            connection.wake()

        timer = loop.call_at(pinged + ping, ring)
        try:
            while True:
                data = connection.take()
                if data:
                    yield data
                    continue
                if connection.done:
                    return
                if connection.error is not None:
                    raise UpstreamUnreachable(
                        "the provider's stream broke", detail=str(connection.error)
                    )
                now = loop.time()
                heard = connection.last_data
                if now - heard >= idle - _EARLY:
                    raise UpstreamTimeout(f"upstream sent nothing for {idle:g} s")
                if now - max(heard, pinged) >= ping - _EARLY:
                    pinged = now
                    yield b""
                    continue
                if fired:
                    fired = False
                    timer = loop.call_at(min(max(heard, pinged) + ping, heard + idle), ring)
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


_EARLY = 0.002  # seconds a timer may fire before its deadline
MAX_ANSWER_BYTES = 64 * 1024 * 1024


class Upstream:
    """The pooled client every provider call goes through; its settings are set from the
    config (`Gateway.apply_config`)."""

    def __init__(self) -> None:
        self._pool: httpclient.Pool | None = None
        self.proxies = ProxyChoice()
        self.redactor: Redactor = NONE
        self.max_answer_bytes = MAX_ANSWER_BYTES
        self.max_per_origin = httpclient.pool.MAX_PER_ORIGIN
        self.fetch_private = False  # set from server.media_private_hosts (media fetching)

    def set_limits(self, max_answer_bytes: int, max_per_origin: int) -> None:
        """Apply the configured limits, to the live pool too."""
        self.max_answer_bytes = max_answer_bytes
        self.max_per_origin = max_per_origin
        if self._pool is not None:
            self._pool.max_per_origin = max_per_origin

    async def start(self) -> None:
        """Open the pool (inside the event loop)."""
        self._pool = httpclient.Pool(keepalive=60.0, max_per_origin=self.max_per_origin)

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
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeouts: TimeoutConfig,
        proxy: str | None = None,
    ) -> FullResponse:
        """POST and read the whole answer, all within the first-byte limit: a non-streamed
        answer's first byte comes when the generation is done. An answer larger than
        `max_answer_bytes` is refused."""
        response = await self._post(url, headers, body, timeouts, proxy)
        limit = self.max_answer_bytes
        try:
            data = await response.read(limit)
        except httpclient.ReadTimeout as error:
            raise _timed_out(timeouts) from error
        except httpclient.TransportError as error:
            raise _broken(error) from error
        if len(data) > limit:
            raise UpstreamUnreachable(f"the provider's answer is larger than {limit} bytes")
        return FullResponse(response.status, response.headers, data)

    async def _post(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeouts: TimeoutConfig,
        proxy: str | None,
    ) -> httpclient.Response:
        """Send the request and wait for the answer's head (first-byte limit); map errors."""
        via = self.proxies.for_url(url, proxy)
        try:
            response = await self.pool.request(
                "POST", url, headers, body, timeouts.connect, timeouts.first_byte, proxy=via
            )
        except httpclient.LocalResourceError as error:
            raise Overloaded("the gateway is out of connections", detail=str(error)) from error
        except httpclient.ConnectError as error:
            raise UpstreamUnreachable(
                "the provider could not be reached", detail=str(error)
            ) from error
        except httpclient.ConnectTimeout as error:
            raise UpstreamTimeout(
                "connecting to the provider timed out", detail=str(error)
            ) from error
        except httpclient.ReadTimeout as error:
            raise _timed_out(timeouts) from error
        except httpclient.TransportError as error:
            raise _broken(error) from error
        if response.status == 407 and via is not None:  # the proxy's answer, not the provider's
            response.close()
            raise UpstreamUnreachable(
                "the outbound proxy refused the gateway", detail=f"{via!r} answered 407"
            )
        return response

    @asynccontextmanager
    async def stream(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeouts: TimeoutConfig,
        proxy: str | None = None,
    ) -> AsyncIterator[StreamingResponse]:
        """POST and hand over the answer once its head arrived; the connection is released
        (or closed, when the body was not read to the end) on exit, also on cancellation."""
        response = await self._post(url, headers, body, timeouts, proxy)
        response.connection.stop_expiry()  # from here on the idle limit applies
        try:
            yield StreamingResponse(response, timeouts.idle, timeouts.ping)
        except BaseException:
            response.close()  # cancelled or broken mid-body: drop the connection, never reuse it
            raise
        response.release()


def _timed_out(timeouts: TimeoutConfig) -> UpstreamTimeout:
    return UpstreamTimeout(f"upstream did not answer within {timeouts.first_byte:g} s")


def _broken(error: httpclient.TransportError) -> UpstreamUnreachable:
    return UpstreamUnreachable("the connection to the provider broke", detail=str(error))
