"""The life of one generation request: resolve the model, try its targets in turn, answer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import msgspec

from plexus import http, ir
from plexus.config import ProviderConfig
from plexus.errors import (
    BadRequest,
    GatewayError,
    ProviderUnavailable,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
    kind_for_status,
)
from plexus.routing import Router, Target
from plexus.upstream.client import Upstream

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass(slots=True)
class Call:
    """One client request in flight, and what its log line reports."""

    client_api: ir.ApiType
    headers: dict[str, str]
    body: bytes
    receive: http.Receive
    send: http.Send
    url_model: str | None = None  # Gemini carries the model and the stream flag in the URL
    url_stream: bool = False
    model: str = ""
    stream: bool = False
    provider: str = ""
    upstream_model: str = ""
    status: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_byte: float | None = None
    usage: Any = None
    attempts: int = 0
    response_started: bool = False
    disconnected: bool = False


class _Head(msgspec.Struct):
    """The two fields every request body is looked at for before anything else."""

    model: str | None = None
    stream: bool = False


_head_decoder = msgspec.json.Decoder(_Head)


def read_head(call: Call) -> None:
    """Fill `call.model` and `call.stream` from the body (or the URL, for Gemini)."""
    try:
        head = _head_decoder.decode(call.body)
    except msgspec.ValidationError as error:
        raise BadRequest(f"Invalid request body: {error}") from error
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"Request body is not valid JSON: {error}") from error
    if call.url_model is not None:
        call.model, call.stream = call.url_model, call.url_stream
        return
    if not head.model:
        raise BadRequest("'model' is required", param="model")
    call.model, call.stream = head.model, head.stream


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body that `read_head` has already accepted as an object."""
    try:
        data: dict[str, Any] = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"Request body is not valid JSON: {error}") from error
    return data


def decode_request(codec: ModuleType, body: bytes) -> ir.Request:
    """Decode a client body with its codec; bytes that are not JSON text are a 400 too."""
    try:
        request: ir.Request = codec.decode_request(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"Request body is not valid JSON: {error}") from error
    return request


class Proxy:
    """Serves generation requests through the router and the upstream pool."""

    def __init__(self, router: Router, upstream: Upstream, max_attempts: int = 3) -> None:
        self.router = router
        self.upstream = upstream
        self.max_attempts = max(1, max_attempts)
        self._slots: dict[str, asyncio.Semaphore] = {}
        from plexus.passthrough import passthrough  # they import this module's helpers
        from plexus.translate import translate

        self._passthrough, self._translate = passthrough, translate

    async def handle(self, call: Call) -> None:
        """Answer `call`; raise GatewayError when nothing was sent to the client yet.

        Targets are tried in the router's order while failures happen before the answer
        started and are worth retrying elsewhere (protocols.md 6.18; issue 4). A client that
        goes away cancels the whole attempt, and with it the upstream request."""
        read_head(call)
        targets = self.router.resolve(call.model)
        with CancelOnDisconnect(call):
            await self._try_targets(call, targets)

    async def _try_targets(self, call: Call, targets: list[Target]) -> None:
        health = self.router.health
        errors: list[GatewayError] = []
        for target in targets[: self.max_attempts]:
            call.attempts += 1
            call.provider, call.upstream_model = target.provider_name, target.model
            try:
                if target.provider.max_concurrency is None:
                    await self._serve(call, target)
                else:
                    await self._serve_in_slot(call, target)
            except GatewayError as error:
                if call.response_started or not retryable(error):
                    raise
                health.failed(target.key, _seconds(error.retry_after))
                errors.append(error)
                continue
            first_byte = None if call.first_byte is None else call.first_byte - call.started
            health.succeeded(target.key, first_byte)
            return
        raise most_useful(errors)

    async def _serve(self, call: Call, target: Target) -> None:
        if target.provider.type == call.client_api and target.provider.passthrough:
            await self._passthrough(self.upstream, call, target)
        else:
            await self._translate(self.upstream, call, target)

    async def _serve_in_slot(self, call: Call, target: Target) -> None:
        """Serve within the provider's concurrency limit, queueing up to its queue_timeout."""
        semaphore = self._slots.get(target.provider_name)
        if semaphore is None:
            limit = target.provider.max_concurrency or 1
            semaphore = self._slots[target.provider_name] = asyncio.Semaphore(limit)
        await _acquire(semaphore, target.provider, target.provider_name)
        try:
            await self._serve(call, target)
        finally:
            semaphore.release()


async def _acquire(semaphore: asyncio.Semaphore, provider: ProviderConfig, name: str) -> None:
    if not semaphore.locked():
        await semaphore.acquire()
        return
    try:
        async with asyncio.timeout(provider.queue_timeout if provider.queue_timeout > 0 else 0):
            await semaphore.acquire()
    except TimeoutError as error:
        raise ProviderUnavailable(
            f"provider '{name}' is at its concurrency limit", status=429, kind="rate_limit"
        ) from error


def retryable(error: GatewayError) -> bool:
    """Whether another target may succeed where this one failed."""
    if isinstance(error, UpstreamUnreachable | UpstreamTimeout | ProviderUnavailable):
        return True
    return isinstance(error, UpstreamError) and error.status in RETRYABLE_STATUS


def most_useful(errors: list[GatewayError]) -> GatewayError:
    """The error to show when every target failed: an upstream's own answer beats ours."""
    for error in errors:
        if isinstance(error, UpstreamError) and error.status not in (500, 502, 503):
            return error
    return errors[0]


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def upstream_error(status: int, body: bytes, headers: Any) -> UpstreamError:
    """An upstream's error answer, its status and message kept."""
    message = _error_message(body) or f"upstream returned HTTP {status}"
    return UpstreamError(
        message, status=status, kind=kind_for_status(status), retry_after=headers.get("retry-after")
    )


def _error_message(body: bytes) -> str | None:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        text = body.decode("utf-8", "replace").strip()
        return text[:500] or None
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        return None
    error = data.get("error", data)
    if isinstance(error, dict):
        message = error.get("message")
        return message if isinstance(message, str) else None
    return error if isinstance(error, str) else None


def ping_bytes(api: ir.ApiType) -> bytes:
    """A keep-alive the client's SDK ignores: Anthropic's ping event; for Gemini a blank line
    (google-genai parses any other line, comments included, as JSON); an SSE comment elsewhere."""
    match api:
        case "messages":
            return b'event: ping\ndata: {"type": "ping"}\n\n'
        case "gemini":
            return b"\n"
        case _:
            return b": ping\n\n"


class CancelOnDisconnect:
    """Cancel the current task when the client goes away, so the upstream call is dropped.

    A class rather than a @contextmanager generator: it is entered once per request."""

    __slots__ = ("_call", "_finished", "_task", "_watcher")

    def __init__(self, call: Call) -> None:
        self._call = call
        self._finished = False

    def __enter__(self) -> None:
        self._task = asyncio.current_task()
        self._watcher = asyncio.ensure_future(self._watch())

    def __exit__(self, *_: object) -> None:
        self._finished = True
        self._watcher.cancel()

    async def _watch(self) -> None:
        while True:
            message = await self._call.receive()
            if message["type"] == "http.disconnect":
                if not self._finished and self._task is not None:
                    self._call.disconnected = True
                    self._task.cancel()
                return
