"""One admin API call as its handler sees it, the answer it returns, and the helpers that read
bodies and query parameters into typed values (every mistake a 400 that says which)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from plexus import http
from plexus.admin.wire import bad_request
from plexus.call import ResponseWriter

if TYPE_CHECKING:
    from plexus.admin.api import AdminApi

T = TypeVar("T")
JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


@dataclass(frozen=True, slots=True)
class Call:
    """A request to the admin API: what it asked and where to answer."""

    method: str
    params: dict[str, str]  # from the path: `{name}`
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    writer: ResponseWriter
    receive: http.Receive

    def decode(self, kind: type[T]) -> T:
        """The body as `kind`; 400 naming the field at fault."""
        try:
            return msgspec.json.decode(self.body, type=kind)
        except msgspec.DecodeError as error:
            raise bad_request(f"invalid body: {error}") from error

    def text(self, name: str, default: str | None = None) -> str | None:
        """A query parameter, or `default`."""
        value = self.query.get(name)
        return value if value not in (None, "") else default

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """An integer query parameter within [low, high]."""
        value = self.text(name)
        if value is None:
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            raise bad_request(f"{name}: expected a whole number from {low} to {high}")
        return int(value)

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        """A query parameter that is one of `choices`."""
        value = self.text(name, default)
        if value not in choices:
            raise bad_request(f"{name}: expected one of {', '.join(choices)}")
        return value


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete answer."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


def reply(value: Any, status: int = 200, etag: str | None = None) -> Reply:
    """A JSON answer (with the config's ETag when given)."""
    headers = list(JSON)
    if etag is not None:
        headers.append((b"etag", etag.encode()))
    return Reply(status, msgspec.json.encode(value), headers)


Handler = Callable[["AdminApi", Call], Awaitable[Reply | None]]
"""An endpoint: returns its answer, or None when it wrote one itself (a stream)."""
