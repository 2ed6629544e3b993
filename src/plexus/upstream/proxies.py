"""Which HTTP proxy an upstream call goes through: the provider's `proxy:` when set ("none":
direct), else `HTTPS_PROXY` / `HTTP_PROXY` from the environment unless `NO_PROXY` names the
host (as curl reads them: upper or lower case; `*`, host names matching their subdomains,
IP addresses and CIDR ranges)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urlsplit

from plexus.upstream.httpclient import Proxy

DIRECT = "none"


class ProxyChoice:
    """Picks the proxy of a URL; the environment is read once, at construction."""

    def __init__(self, environment: Mapping[str, str] | None = None) -> None:
        env = os.environ if environment is None else environment
        self._proxies = {
            scheme: value
            for scheme in ("http", "https")
            if (value := _read(env, f"{scheme}_proxy"))
        }
        self._bypass = [entry.strip().lower() for entry in _read(env, "no_proxy").split(",")]

    def for_url(self, url: str, configured: str | None = None) -> Proxy | None:
        """The proxy to reach `url` through, or None for a direct connection."""
        if configured is not None:
            return None if configured == DIRECT else _parse(configured)
        if not self._proxies:
            return None
        parts = urlsplit(url)
        chosen = self._proxies.get(parts.scheme)
        if not chosen or self._bypassed((parts.hostname or "").lower()):
            return None
        return _parse(chosen)

    def _bypassed(self, host: str) -> bool:
        for entry in self._bypass:
            if not entry:
                continue
            if entry == "*" or host == entry.lstrip(".") or host.endswith("." + entry.lstrip(".")):
                return True
            if _in_network(host, entry):
                return True
        return False


def _read(env: Mapping[str, str], name: str) -> str:
    return env.get(name) or env.get(name.upper()) or ""


def _in_network(host: str, entry: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False


@lru_cache(maxsize=64)
def _parse(url: str) -> Proxy:
    return Proxy.from_url(url)
