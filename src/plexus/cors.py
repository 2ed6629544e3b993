"""CORS, for clients that run in a browser (a chat page calling the gateway with the OpenAI
SDK's `dangerouslyAllowBrowser`, the Vercel AI SDK): their preflights are answered and their
answers readable, from the origins allowed (Fetch standard, "CORS protocol").

No credentials are ever allowed (no `access-control-allow-credentials`): a gateway key travels
in a header the page sets itself, never in a cookie the browser adds. An API open to anyone (no
gateway keys) allows no origin by default: any page the user visits could otherwise spend the
providers' keys through a gateway on their machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_METHODS = b"GET, POST, DELETE, OPTIONS"
_MAX_AGE = b"86400"  # browsers cap it lower (Chromium: 2 h); one preflight per path and headers
_EXPOSED = (b"access-control-expose-headers", b"*")  # x-request-id, retry-after, rate limits


class Cors:
    """The origins allowed (`*`: any) and the headers that tell a browser so."""

    __slots__ = ("_any", "_origins")

    def __init__(self, origins: Sequence[str]) -> None:
        self._any = "*" in origins
        self._origins = frozenset(origin.rstrip("/").lower() for origin in origins)

    def _allowed(self, origin: str) -> bytes | None:
        """The `access-control-allow-origin` value for `origin`, or None when not allowed."""
        if self._any:
            return b"*"
        if origin.lower() in self._origins:
            return origin.encode("latin-1")
        return None

    def headers(self, origin: str) -> tuple[tuple[bytes, bytes], ...]:
        """The headers of an answer to a request from `origin` (none when not allowed)."""
        allowed = self._allowed(origin)
        if allowed is None:
            return ()
        if self._any:
            return ((b"access-control-allow-origin", allowed), _EXPOSED)
        return ((b"access-control-allow-origin", allowed), (b"vary", b"origin"), _EXPOSED)

    def preflight(self, origin: str, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
        """The headers of the answer to a preflight from `origin` asking for `headers`'
        method and headers (only `vary` when the origin is not allowed: the browser refuses)."""
        vary = (b"vary", b"origin, access-control-request-headers")
        allowed = self._allowed(origin)
        if allowed is None:
            return [vary]
        asked = headers.get("access-control-request-headers", "")
        answer = [
            (b"access-control-allow-origin", allowed),
            (b"access-control-allow-methods", _METHODS),
            (b"access-control-max-age", _MAX_AGE),
            vary,
        ]
        if asked:
            # Echoed rather than `*`: a wildcard does not cover `authorization`.
            answer.append((b"access-control-allow-headers", asked.encode("latin-1")))
        return answer


def cors_of(origins: Sequence[str] | None, open_api: bool) -> Cors | None:
    """The CORS policy of `server.cors_origins` (None: any origin when gateway keys are
    required, none when the API is open), or None when no origin is allowed."""
    if origins is None:
        origins = () if open_api else ("*",)
    return Cors(origins) if origins else None
