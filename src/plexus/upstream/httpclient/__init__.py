"""A lean pooled HTTP/1.1 client for upstream calls: asyncio protocols and the llhttp parser.

Why not aiohttp's client: on the gateway's hot path its per-request and per-read machinery cost
more than all the translation work (bench/RESULTS.md). This client does only what an upstream call
needs: keep-alive pools per origin, TLS, one write per request, a parsed head, the body as it
arrives with back-pressure, and a dropped connection whenever a response is abandoned, so
the upstream sees the client go away. Redirects and cookies are not its business.
"""

from plexus.upstream.httpclient.connection import Connection
from plexus.upstream.httpclient.errors import (
    ConnectError,
    ConnectionBroken,
    ConnectTimeout,
    LocalResourceError,
    PoolFull,
    ReadTimeout,
    TransportError,
)
from plexus.upstream.httpclient.pool import Pool, Response
from plexus.upstream.httpclient.tunnel import Proxy

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "Connection",
    "ConnectionBroken",
    "LocalResourceError",
    "Pool",
    "PoolFull",
    "Proxy",
    "ReadTimeout",
    "Response",
    "TransportError",
]
