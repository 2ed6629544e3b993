"""Fetching an image by URL for a provider that cannot fetch it itself (Gemini).

The URL comes from a client, so the fetch is treated as hostile: unless private hosts are
allowed, the host must resolve only to public addresses and the connection goes to the address
that was checked (a DNS answer that changes between the check and the connect cannot steer it
inside the network; through a proxy, the tunnel is opened to that address too); every redirect
hop is checked again; the size, the time and the inflation of the body are bounded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

from plexus.errors import UpstreamTimeout, UpstreamUnreachable
from plexus.upstream import httpclient
from plexus.upstream.client import Upstream

_MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


async def public_address(host: str) -> str:
    """Resolve `host`; return its first address when every address is public, else refuse."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as error:
        raise UpstreamUnreachable(f"cannot resolve {host}: {error}") from error
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            raise UpstreamUnreachable(f"{host} resolves to a private address ({address})")
    if not infos:
        raise UpstreamUnreachable(f"cannot resolve {host}")
    return str(infos[0][4][0])


async def fetch(upstream: Upstream, url: str, limit: int, seconds: float) -> tuple[str, bytes]:
    """GET `url` (following redirects by hand); return its content type and at most `limit`
    bytes, or raise UpstreamUnreachable / UpstreamTimeout."""
    try:
        async with asyncio.timeout(seconds):
            for _ in range(_MAX_REDIRECTS + 1):
                response = await _get(upstream, url, seconds)
                location = response.headers.get("location")
                if response.status in _REDIRECTS and location:
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


async def _get(upstream: Upstream, url: str, seconds: float) -> httpclient.Response:
    host = urlsplit(url).hostname or ""
    address = None if upstream.fetch_private else await public_address(host.strip("[]"))
    return await upstream.pool.request(
        "GET",
        url,
        {"accept": "image/*"},
        b"",
        seconds,
        address=address,
        proxy=upstream.proxies.for_url(url),
    )
