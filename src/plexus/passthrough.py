"""Same API on both sides: forward the body with the model swapped, relay the answer's bytes."""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import msgspec

from plexus import ir, sse
from plexus.call import ClientRequest, Outcome, ResponseWriter, decode_object
from plexus.errors import GatewayError
from plexus.protocols import Codec
from plexus.protocols.codec import StreamUsageOption
from plexus.providers import adapter_for
from plexus.relay import relay
from plexus.routing import Target
from plexus.services import Services
from plexus.upstream.addressing import upstream_headers, upstream_url
from plexus.upstream.client import Upstream
from plexus.upstream.errors import upstream_error

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
TAIL_BYTES = 16 * 1024  # how much of a relayed stream's end is kept to read its usage


async def passthrough(
    services: Services, request: ClientRequest, target: Target, writer: ResponseWriter
) -> Outcome:
    """Serve a generation from a provider of the client's own API type."""
    url = upstream_url(target.provider, target.model, request.stream)
    body, hide_usage = rewrite_body(request, target)
    return await forward(services, request, target, writer, url, body, hide_usage=hide_usage)


async def forward(
    services: Services,
    request: ClientRequest,
    target: Target,
    writer: ResponseWriter,
    url: str,
    body: bytes,
    *,
    hide_usage: bool = False,
) -> Outcome:
    """POST `body` to `url` and relay the answer's bytes, streamed when the request asks for
    a stream. An answer worth trying elsewhere (a retryable status) is raised; any other is
    relayed as the upstream sent it (`hide_usage`: but for the usage event the client did not
    ask for)."""
    upstream, provider = services.upstream, target.provider
    headers = await upstream_headers(
        target.provider_name, provider, request.stream, request.headers, request.trace_headers
    )
    sent = time.perf_counter()
    if not request.stream:
        answer = await upstream.full(url, headers, body, provider.timeouts, provider.proxy)
        waited = time.perf_counter() - sent
        if answer.status in RETRYABLE_STATUS:
            raise upstream_error(
                answer.status, answer.body, answer.headers, upstream.redactor, provider.type
            )
        await _relay_whole(writer, answer.status, answer.body, answer.headers, upstream)
        usage = request.codec.decode_usage_of(answer.body) if answer.status < 400 else None
        return Outcome(usage, passthrough=True, upstream_seconds=waited)
    async with upstream.stream(url, headers, body, provider.timeouts, provider.proxy) as response:
        if response.status >= 400:
            error_body = await response.read()
            if response.status in RETRYABLE_STATUS:
                raise upstream_error(
                    response.status, error_body, response.headers, upstream.redactor, provider.type
                )
            await _relay_whole(writer, response.status, error_body, response.headers, upstream)
            return Outcome(passthrough=True)
        converter = _UsageHidingRelay(request.codec) if hide_usage else _ByteRelay(request.codec)
        await relay(writer, response.chunks(), converter, request.codec.TRANSPORT.keepalive)
        waited = time.perf_counter() - sent
        return Outcome(converter.usage, passthrough=True, upstream_seconds=waited)


def rewrite_body(
    request: ClientRequest, target: Target, *, quirks: bool = True
) -> tuple[bytes, bool]:
    """The client's body with the model replaced and client-only fields dropped; with
    `quirks`, the provider adapter's wire quirks applied and the provider's extra_body merged
    too (both are about generation requests). The rest is untouched, except that a stream's
    usage is asked for when the client did not (the ledger needs it): the second value says
    so, and that the client must not see it."""
    extra = target.provider.extra_body if quirks else None
    adapter = target.provider.adapter if quirks else None
    transport = request.codec.TRANSPORT
    if transport.model_in_url and not extra and adapter is None:
        return request.body, False
    data = decode_object(request.body)
    if not transport.model_in_url:
        data["model"] = target.model
    for name in transport.client_only_fields:
        data.pop(name, None)
    hide_usage = request.stream and _ask_stream_usage(data, transport.stream_usage)
    if adapter is not None:
        data = adapter_for(adapter).patch_body(data)
    if extra:
        data.update(extra)
    return msgspec.json.encode(data), hide_usage


def _ask_stream_usage(data: dict[str, Any], option: StreamUsageOption | None) -> bool:
    """Turn on the stream's usage option (`stream_options.include_usage`) when the protocol
    has one and the client left it off; whether it did."""
    if option is None:
        return False
    outer, inner = option.outer, option.inner
    options = data.get(outer)
    if isinstance(options, dict) and options.get(inner) is True:
        return False
    data[outer] = {**(options if isinstance(options, dict) else {}), inner: True}
    return True


async def _relay_whole(
    writer: ResponseWriter,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    upstream: Upstream,
) -> None:
    """Relay a whole answer; an error's body is scrubbed of every configured secret (an
    upstream may echo the request's headers, the provider key among them)."""
    if status >= 400:
        body = upstream.redactor.bytes(body)
    content_type = headers.get("content-type", "application/json")
    await writer.body(status, body, [(b"content-type", content_type.encode())])


class _ByteRelay:
    """Relays upstream bytes untouched, keeping the last chunks (by reference, not copied per
    event) to read the usage from at the end."""

    __slots__ = ("_codec", "_head", "_tail", "_tail_size", "at_boundary", "usage")

    def __init__(self, codec: Codec) -> None:
        self._codec = codec
        self._head = b""  # the first read: where Anthropic's message_start carries the input
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.at_boundary = True  # a keep-alive may only go between two relayed events
        self.usage: ir.Usage | None = None

    def feed(self, chunk: bytes) -> bytes:
        self.at_boundary = chunk.endswith((b"\n\n", b"\r\n\r\n", b"\r\r"))
        tail = self._tail
        tail.append(chunk)
        self._tail_size += len(chunk)
        while self._tail_size - len(tail[0]) >= TAIL_BYTES:
            self._tail_size -= len(tail.popleft())
        return chunk

    def feed_first(self, chunk: bytes) -> bytes:
        self._head = chunk
        return self.feed(chunk)

    def drain(self) -> bytes:
        return b""

    def finish(self) -> bytes:
        tail = self._usage_in(b"".join(self._tail)[-TAIL_BYTES:], last=True)
        head = self._usage_in(self._head[:TAIL_BYTES], last=False)
        self.usage = _merged(head, tail)
        return b""

    def fail(self, error: GatewayError) -> bytes:
        self.finish()
        transport = self._codec.TRANSPORT
        body = self._codec.encode_error(error.status, error.message, error.kind)
        return sse.encode(body, transport.error_event)

    def _usage_in(self, data: bytes, *, last: bool) -> ir.Usage | None:
        """The last (or first) usage in the whole events of `data`."""
        start = data.find(b"\n\n") if last else -2
        events = sse.Decoder().feed(data[start + 2 :] if start >= 0 or not last else data)
        for event in reversed(events) if last else events:
            if "sage" in event.data:  # usage or usageMetadata: a cheap pre-filter
                usage = self._codec.decode_usage_of(event.data.encode())
                if usage is not None:
                    return usage
        return None


class _UsageHidingRelay(_ByteRelay):
    """A byte relay that also leaves out the usage event the gateway asked for on the client's
    behalf. It relays whole events only, so that event is seen whole."""

    __slots__ = ("_is_usage_event", "_pending")

    def __init__(self, codec: Codec) -> None:
        super().__init__(codec)
        option = codec.TRANSPORT.stream_usage
        assert option is not None
        self._is_usage_event = option.is_usage_event
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        super().feed(chunk)  # the tail keeps the usage event, for `finish`
        data = self._pending + chunk if self._pending else chunk
        cut = _end_of_whole_events(data)
        self._pending, whole = data[cut:], data[:cut]
        self.at_boundary = True  # only whole events go out
        if b'"usage"' not in whole:
            return whole
        parts = _EVENT_SEPARATOR.split(whole)  # event, separator, event, ..., ""
        kept = [
            part
            for event, separator in zip(parts[::2], parts[1::2], strict=False)
            if not self._is_usage_event(_event_data(event))
            for part in (event, separator)
        ]
        return b"".join(kept)

    def finish(self) -> bytes:
        super().finish()
        pending, self._pending = self._pending, b""
        return pending


_EVENT_SEPARATOR = re.compile(rb"(\r\n\r\n|\n\n|\r\r)")


def _end_of_whole_events(data: bytes) -> int:
    """Where the last whole SSE event of `data` ends (0: none is whole yet)."""
    end = 0
    for separator in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        at = data.rfind(separator)
        if at >= 0:
            end = max(end, at + len(separator))
    return end


def _event_data(event: bytes) -> bytes:
    """The `data:` of one SSE event, its lines joined."""
    lines = [line[5:].lstrip(b" ") for line in event.splitlines() if line.startswith(b"data:")]
    return b"\n".join(lines)


def _merged(head: ir.Usage | None, tail: ir.Usage | None) -> ir.Usage | None:
    """Counts are cumulative: each bucket's largest value, the stream's start (input, cache)
    and end (output) together."""
    if head is None or tail is None:
        return tail or head
    return ir.Usage(
        input_tokens=max(head.input_tokens, tail.input_tokens),
        output_tokens=max(head.output_tokens, tail.output_tokens),
        cache_read_tokens=max(head.cache_read_tokens, tail.cache_read_tokens),
        cache_write_tokens=max(head.cache_write_tokens, tail.cache_write_tokens),
        reasoning_tokens=tail.reasoning_tokens
        if tail.reasoning_tokens is not None
        else head.reasoning_tokens,
    )
