"""The life of one generation request: resolve, then pass through or translate, streamed or not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec

from plexus import http, ir, sse
from plexus.endpoints import upstream_headers, upstream_url
from plexus.errors import (
    BadRequest,
    GatewayError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
    kind_for_status,
)
from plexus.protocols import codec_for
from plexus.providers import adapter_for
from plexus.routing import Router, Target
from plexus.upstream import Upstream
from plexus.usage_probe import TAIL_BYTES, usage_from_body, usage_from_stream_tail

_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


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
    except msgspec.DecodeError as error:
        raise BadRequest(f"Request body is not valid JSON: {error}") from error
    if call.url_model is not None:
        call.model, call.stream = call.url_model, call.url_stream
        return
    if not head.model:
        raise BadRequest("'model' is required", param="model")
    call.model, call.stream = head.model, head.stream


class Proxy:
    """Serves generation requests through the router and the upstream pool."""

    def __init__(self, router: Router, upstream: Upstream, max_attempts: int = 3) -> None:
        self.router = router
        self.upstream = upstream
        self.max_attempts = max_attempts

    async def handle(self, call: Call) -> None:
        """Answer `call`; raise GatewayError when the answer has not started yet."""
        read_head(call)
        targets = self.router.resolve(call.model)
        last_error: GatewayError | None = None
        for target in targets[: self.max_attempts]:
            call.attempts += 1
            call.provider, call.upstream_model = target.provider_name, target.model
            try:
                await self._attempt(call, target)
                return
            except GatewayError as error:
                if call.response_started or not _retryable(error):
                    raise
                last_error = error
        assert last_error is not None
        raise last_error

    async def _attempt(self, call: Call, target: Target) -> None:
        if target.provider.type == call.client_api:
            await self._passthrough(call, target)
        else:
            await self._translate(call, target)

    # --- passthrough ---------------------------------------------------------------------

    async def _passthrough(self, call: Call, target: Target) -> None:
        body = _rewrite_body(call, target)
        url = upstream_url(target, call.stream)
        headers = upstream_headers(target, call.stream, call.headers)
        timeouts = target.provider.timeouts
        if not call.stream:
            answer = await self.upstream.full(url, headers, body, timeouts)
            call.first_byte = time.perf_counter()
            if answer.status >= 400 and answer.status in _RETRYABLE_STATUS:
                raise _upstream_error(answer.status, answer.body, answer.headers)
            call.usage = usage_from_body(answer.body) if answer.status < 400 else None
            await _relay(call, answer.status, answer.body, answer.headers)
            return
        async with self.upstream.stream(url, headers, body, timeouts) as response:
            if response.status >= 400:
                error_body = await response.read()
                if response.status in _RETRYABLE_STATUS:
                    raise _upstream_error(response.status, error_body, response.headers)
                await _relay(call, response.status, error_body, response.headers)
                return
            tail = b""
            with _cancel_on_disconnect(call):
                call.status, call.response_started = 200, True
                await http.start_stream(call.send)
                try:
                    async for chunk in response.chunks():
                        if call.first_byte is None:
                            call.first_byte = time.perf_counter()
                        await http.send_chunk(call.send, chunk)
                        tail = (tail + chunk)[-TAIL_BYTES:] if len(chunk) < TAIL_BYTES else chunk
                except GatewayError as error:
                    await http.send_chunk(call.send, _stream_error_bytes(call, error))
                await http.end_stream(call.send)
            call.usage = usage_from_stream_tail(tail)

    # --- translation ---------------------------------------------------------------------

    async def _translate(self, call: Call, target: Target) -> None:
        client = codec_for(call.client_api)
        provider = codec_for(target.provider.type)
        adapter = adapter_for(target.provider.adapter)
        request: ir.Request = client.decode_request(call.body)
        if call.url_model is not None:
            request.model, request.stream = call.url_model, call.url_stream
        upstream_request = adapter.prepare_request(
            msgspec.structs.replace(request, model=target.model)
        )
        payload = adapter.patch_body(provider.encode_request(upstream_request))
        if target.provider.extra_body:
            payload.update(target.provider.extra_body)
        body = msgspec.json.encode(payload)
        url = upstream_url(target, request.stream)
        headers = upstream_headers(target, request.stream)
        timeouts = target.provider.timeouts
        if not request.stream:
            answer = await self.upstream.full(url, headers, body, timeouts)
            call.first_byte = time.perf_counter()
            if answer.status >= 400:
                raise _upstream_error(answer.status, answer.body, answer.headers)
            response = adapter.patch_response(_decode_answer(provider, answer.body))
            call.usage = msgspec.to_builtins(response.usage)
            call.status = 200
            await http.send_body(call.send, 200, client.encode_response(response, request))
            return
        async with self.upstream.stream(url, headers, body, timeouts) as streamed:
            if streamed.status >= 400:
                error_body = await streamed.read()
                raise _upstream_error(streamed.status, error_body, streamed.headers)
            with _cancel_on_disconnect(call):
                await self._translate_stream(
                    call, streamed.chunks(), provider, client, adapter, request
                )

    async def _translate_stream(
        self,
        call: Call,
        chunks: Any,
        provider: Any,
        client: Any,
        adapter: Any,
        request: ir.Request,
    ) -> None:
        framing = sse.Decoder()
        decoder = provider.StreamDecoder()
        encoder = client.StreamEncoder(request)
        call.status, call.response_started = 200, True
        await http.start_stream(call.send)

        def convert(events: list[ir.StreamEvent]) -> list[bytes]:
            out: list[bytes] = []
            for event in events:
                patched = adapter.patch_event(event)
                if patched is None:
                    continue
                if isinstance(patched, ir.UsageUpdate | ir.Finish) and patched.usage is not None:
                    call.usage = patched.usage
                out.extend(encoder.feed(patched))
            return out

        try:
            async for chunk in chunks:
                if call.first_byte is None:
                    call.first_byte = time.perf_counter()
                out: list[bytes] = []
                for event in framing.feed(chunk):
                    out.extend(convert(decoder.feed(event)))
                if out:
                    await http.send_chunk(call.send, b"".join(out))
            out = []
            for event in framing.flush():
                out.extend(convert(decoder.feed(event)))
            out.extend(convert(decoder.finish()))
        except GatewayError as error:
            out = convert([ir.StreamError(error.message, error.kind, error.status)])
        out.extend(encoder.finish())
        await http.send_chunk(call.send, b"".join(out))
        await http.end_stream(call.send)
        if call.usage is not None:
            call.usage = msgspec.to_builtins(call.usage)


def _decode_answer(provider: Any, body: bytes) -> ir.Response:
    try:
        response: ir.Response = provider.decode_response(body)
    except (msgspec.DecodeError, BadRequest) as error:
        raise UpstreamUnreachable(f"upstream returned an invalid response: {error}") from error
    return response


def _rewrite_body(call: Call, target: Target) -> bytes:
    """The client's body with only the model replaced and the provider's extra_body merged."""
    extra = target.provider.extra_body
    if call.client_api == "gemini" and not extra:
        return call.body
    data = msgspec.json.decode(call.body)
    if call.client_api != "gemini":
        data["model"] = target.model
    if extra:
        data.update(extra)
    return msgspec.json.encode(data)


async def _relay(call: Call, status: int, body: bytes, headers: Any) -> None:
    call.status = status
    content_type = headers.get("content-type", "application/json")
    await http.send_body(call.send, status, body, [(b"content-type", content_type.encode())])


def _retryable(error: GatewayError) -> bool:
    if isinstance(error, UpstreamUnreachable | UpstreamTimeout):
        return True
    return isinstance(error, UpstreamError) and error.status in _RETRYABLE_STATUS


def _upstream_error(status: int, body: bytes, headers: Any) -> UpstreamError:
    """An upstream's error answer, its status and message kept."""
    message = _error_message(body) or f"upstream returned HTTP {status}"
    return UpstreamError(
        message,
        status=status,
        kind=kind_for_status(status),
        retry_after=headers.get("retry-after"),
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


def _stream_error_bytes(call: Call, error: GatewayError) -> bytes:
    """An error event in the client's protocol, for a passthrough stream that broke."""
    body: bytes = codec_for(call.client_api).encode_error(error.status, error.message, error.kind)
    name = "error" if call.client_api in ("messages", "responses") else None
    return sse.encode(body, name)


@contextmanager
def _cancel_on_disconnect(call: Call) -> Iterator[None]:
    """Cancel the current task when the client goes away, so the upstream call is dropped."""
    task = asyncio.current_task()
    finished = False

    async def watch() -> None:
        while True:
            message = await call.receive()
            if message["type"] == "http.disconnect":
                if not finished and task is not None:
                    task.cancel()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        yield
    finally:
        finished = True
        watcher.cancel()
