"""Same API on both sides: forward the body with the model swapped, relay the answer's bytes."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import msgspec

from plexus import http, sse
from plexus.errors import GatewayError
from plexus.protocols import codec_for
from plexus.providers import adapter_for
from plexus.proxy import (
    RETRYABLE_STATUS,
    Call,
    decode_object,
    ping_bytes,
    upstream_error,
)
from plexus.routing import Target
from plexus.upstream.addressing import upstream_headers, upstream_url
from plexus.upstream.client import Upstream
from plexus.usage_probe import TAIL_BYTES, usage_from_body, usage_from_stream_tail


async def passthrough(upstream: Upstream, call: Call, target: Target) -> None:
    """Serve `call` from a provider of the client's own API type."""
    body = _rewrite_body(call, target)
    url = upstream_url(target, call.stream)
    headers = upstream_headers(target, call.stream, call.headers)
    timeouts = target.provider.timeouts
    if not call.stream:
        answer = await upstream.full(url, headers, body, timeouts)
        call.first_byte = time.perf_counter()
        if answer.status in RETRYABLE_STATUS:
            raise upstream_error(answer.status, answer.body, answer.headers)
        call.usage = usage_from_body(answer.body) if answer.status < 400 else None
        await _relay(call, answer.status, answer.body, answer.headers)
        return
    async with upstream.stream(url, headers, body, timeouts) as response:
        if response.status >= 400:
            error_body = await response.read()
            if response.status in RETRYABLE_STATUS:
                raise upstream_error(response.status, error_body, response.headers)
            await _relay(call, response.status, error_body, response.headers)
            return
        call.usage = await _relay_stream(call, response.chunks())


async def _relay_stream(call: Call, chunks: Any) -> Any:
    call.status, call.response_started = 200, True
    await http.start_stream(call.send)
    # The last chunks, kept by reference (not copied per event) for the usage probe at the end.
    tail: deque[bytes] = deque()
    tail_size = 0
    at_boundary = True  # a keep-alive may only go between two relayed events
    try:
        async for chunk in chunks:
            if not chunk:
                if at_boundary:
                    await http.send_chunk(call.send, ping_bytes(call.client_api))
                continue
            if call.first_byte is None:
                call.first_byte = time.perf_counter()
            await http.send_chunk(call.send, chunk)
            at_boundary = chunk.endswith((b"\n\n", b"\r\n\r\n", b"\r\r"))
            tail.append(chunk)
            tail_size += len(chunk)
            while tail_size - len(tail[0]) >= TAIL_BYTES:
                tail_size -= len(tail.popleft())
    except GatewayError as error:
        await http.send_chunk(call.send, _stream_error(call, error))
    await http.end_stream(call.send)
    return usage_from_stream_tail(b"".join(tail)[-TAIL_BYTES:])


# Fields a client sends that only its vendor's own backend takes; the public API rejects them.
_CLIENT_ONLY_FIELDS: dict[str, tuple[str, ...]] = {"responses": ("client_metadata",)}


def _rewrite_body(call: Call, target: Target) -> bytes:
    """The client's body with the model replaced, client-only fields dropped, the provider
    adapter's wire quirks applied and the provider's extra_body merged; the rest is untouched."""
    extra = target.provider.extra_body
    adapter = target.provider.adapter
    if call.client_api == "gemini" and not extra and adapter is None:
        return call.body
    data = decode_object(call.body)
    if call.client_api != "gemini":
        data["model"] = target.model
    for name in _CLIENT_ONLY_FIELDS.get(call.client_api, ()):
        data.pop(name, None)
    if adapter is not None:
        data = adapter_for(adapter).patch_body(data)
    if extra:
        data.update(extra)
    return msgspec.json.encode(data)


async def _relay(call: Call, status: int, body: bytes, headers: Any) -> None:
    call.status = status
    content_type = headers.get("content-type", "application/json")
    await http.send_body(call.send, status, body, [(b"content-type", content_type.encode())])


def _stream_error(call: Call, error: GatewayError) -> bytes:
    """An error event in the client's protocol, for a relayed stream that broke."""
    body: bytes = codec_for(call.client_api).encode_error(error.status, error.message, error.kind)
    name = "error" if call.client_api in ("messages", "responses") else None
    return sse.encode(body, name)
