"""Different APIs on the two sides: client codec → IR → provider codec, and back.

Policy that exists only because the two sides differ lives here, not in the codecs: tool names
renamed to what every provider accepts and restored for the client (tool_names.py), and image
URLs inlined for a provider that cannot fetch them (media.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import cast

import msgspec

from plexus import conversations, ir, sse
from plexus.call import ClientRequest, Outcome, ResponseWriter, decode_request
from plexus.errors import BadRequest, GatewayError, UpstreamUnreachable
from plexus.protocols import Codec, codec_for
from plexus.protocols.tool_names import (
    client_tool_names,
    restore_event,
    restore_response,
    with_safe_tool_names,
)
from plexus.providers import adapter_for
from plexus.providers.base import Adapter
from plexus.relay import relay
from plexus.routing import Target
from plexus.services import Services
from plexus.upstream.addressing import upstream_headers, upstream_url
from plexus.upstream.errors import upstream_error


async def translate(
    services: Services, request: ClientRequest, target: Target, writer: ResponseWriter
) -> Outcome:
    """Serve `request` from a provider of another API type (or one that is not passed through)."""
    client, upstream = request.codec, services.upstream
    provider = target.provider
    provider_codec = codec_for(provider.type)
    adapter = adapter_for(provider.adapter)
    item_ids = client.TRANSPORT.item_ids
    if item_ids:
        request = _with_items(services, request)
    request, own_input = conversations.splice(request)
    decoded, outgoing = outgoing_request(request, target, adapter)
    conversations.mark(decoded, request)  # for the client's encoder only
    if not provider_codec.TRANSPORT.fetches_media_urls:
        await services.media.inline(outgoing)
    body = encode_outgoing(outgoing, target, provider_codec, adapter)
    url = upstream_url(provider, target.model, decoded.stream)
    headers = await upstream_headers(
        target.provider_name, provider, decoded.stream, trace=request.trace_headers
    )
    sent = time.perf_counter()
    if not decoded.stream:
        answer = await upstream.full(url, headers, body, provider.timeouts, provider.proxy)
        waited = time.perf_counter() - sent
        if answer.status >= 400:
            raise upstream_error(
                answer.status, answer.body, answer.headers, upstream.redactor, provider.type
            )
        response = adapter.patch_response(_decode_answer(provider_codec, answer.body))
        response = restore_response(response, client_tool_names(decoded))
        encoded = client.encode_response(response, decoded)
        _answered(services, request, target, own_input, [encoded])
        await writer.body(200, encoded)
        return Outcome(response.usage, stop_reason=response.stop_reason, upstream_seconds=waited)
    async with upstream.stream(url, headers, body, provider.timeouts, provider.proxy) as streamed:
        if streamed.status >= 400:
            error_body = await streamed.read()
            raise upstream_error(
                streamed.status, error_body, streamed.headers, upstream.redactor, provider.type
            )
        converter = _Translator(provider_codec, client, adapter, decoded)
        if item_ids or own_input is not None:

            def closing(frames: bytes) -> None:
                events = sse.Decoder().feed(frames)
                _answered(services, request, target, own_input, [e.data.encode() for e in events])

            converter.closing = closing
        await relay(writer, streamed.chunks(), converter, client.TRANSPORT.keepalive)
        waited = time.perf_counter() - sent
        return Outcome(
            converter.usage,
            stop_reason=converter.stop_reason,
            first_token=converter.first_token,
            upstream_seconds=waited,
        )


def outgoing_request(
    request: ClientRequest, target: Target, adapter: Adapter
) -> tuple[ir.Request, ir.Request]:
    """The client's request in the IR, and as it goes to `target` (before image URLs are
    inlined for a provider that cannot fetch them)."""
    decoded = decode_request(request)
    outgoing = adapter.prepare_request(msgspec.structs.replace(decoded, model=target.model))
    return decoded, with_safe_tool_names(outgoing)


def encode_outgoing(outgoing: ir.Request, target: Target, codec: Codec, adapter: Adapter) -> bytes:
    """The upstream body of an outgoing request: the provider's codec, its adapter's wire
    quirks, its `extra_body`."""
    payload = adapter.patch_body(codec.encode_request(outgoing), outgoing)
    if target.provider.extra_body:
        payload.update(target.provider.extra_body)
    return msgspec.json.encode(payload)


def _answered(
    services: Services,
    request: ClientRequest,
    target: Target,
    own_input: str | None,
    answers: list[bytes],
) -> None:
    """Remember the output items of an answer (a body, or a stream's final events), and keep
    the answer when it is to be kept (responses.store); before the client has the answer's
    end, so that its next request finds them."""
    codec = request.codec
    for data in answers:
        if codec.TRANSPORT.item_ids:
            services.items.remember(request.key, codec.output_items(data))
        if own_input is not None and services.responses is not None:
            conversations.keep(services.responses, request, target.provider_name, own_input, data)


def _with_items(services: Services, request: ClientRequest) -> ClientRequest:
    """The request with its references to items the gateway issued replaced by the items
    (issue 11 bug 8: they were dropped, and with them the earlier turns)."""
    key = request.key
    body = request.codec.resolve_items(request.body, lambda item: services.items.get(key, item))
    return request if body is request.body else dataclasses.replace(request, body=body)


_CONTENT = frozenset({ir.TextDelta, ir.ThinkingDelta, ir.ToolArgumentsDelta, ir.BlockStart})


class _Translator:
    """Upstream bytes through SSE framing, the provider's decoder, the adapter's event hook and
    the client's encoder (a `relay.StreamConverter`)."""

    at_boundary = True  # the client's stream is written in whole events

    def __init__(self, provider: Codec, client: Codec, adapter: Adapter, request: ir.Request):
        self._framing = sse.Decoder()
        self._decoder = provider.StreamDecoder()
        self._encoder = client.StreamEncoder(request)
        self._names = client_tool_names(request)
        self._pending: list[sse.Event] = []
        self.usage: ir.Usage | None = None
        self.last_frames = b""  # the last bytes written: the stream's closing events
        # Called with the closing events once they are converted, before they are sent.
        self.closing: Callable[[bytes], None] | None = None
        self.stop_reason: str | None = None
        self.first_token: float | None = None  # when the first content event was converted
        # Most adapters leave stream events alone: skip the per-event call for them.
        overridden = type(adapter).patch_event is not Adapter.patch_event
        self._patch = adapter.patch_event if overridden else None

    def _convert(self, events: list[ir.StreamEvent], out: list[bytes]) -> None:
        patch, names, encoder = self._patch, self._names, self._encoder
        for event in events:
            patched = patch(event) if patch is not None else event
            if patched is None:
                continue
            if names:
                patched = restore_event(patched, names)
            # `type() is`: a Struct isinstance that misses, as on nearly every event, is costly.
            kind = type(patched)
            if self.first_token is None and kind in _CONTENT:
                self.first_token = time.perf_counter()
            if kind is ir.UsageUpdate:
                self.usage = cast(ir.UsageUpdate, patched).usage or self.usage
            elif kind is ir.Finish:
                finish = cast(ir.Finish, patched)
                self.usage, self.stop_reason = finish.usage or self.usage, finish.stop_reason
            out.extend(encoder.feed(patched))

    def feed(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        decoder = self._decoder
        for event in self._framing.feed(chunk):
            self._convert(decoder.feed(event), out)
        return self._written(out)

    def feed_first(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        events = self._framing.feed(chunk)
        for position, event in enumerate(events):
            self._convert(self._decoder.feed(event), out)
            if out:
                self._pending = events[position + 1 :]
                break
        return self._written(out)

    def drain(self) -> bytes:
        out: list[bytes] = []
        pending, self._pending = self._pending, []
        for event in pending:
            self._convert(self._decoder.feed(event), out)
        return self._written(out)

    def finish(self) -> bytes:
        out: list[bytes] = []
        for event in self._framing.flush():
            self._convert(self._decoder.feed(event), out)
        self._convert(self._decoder.finish(), out)
        out.extend(self._encoder.finish())
        return self._closed(out)

    def fail(self, error: GatewayError) -> bytes:
        out: list[bytes] = []
        self._convert([ir.StreamError(error.message, error.kind, error.status)], out)
        out.extend(self._encoder.finish())
        return self._closed(out)

    def _closed(self, out: list[bytes]) -> bytes:
        data = self._written(out)
        if self.closing is not None:
            self.closing(self.last_frames)
        return data

    def _written(self, out: list[bytes]) -> bytes:
        data = b"".join(out)
        if data:
            self.last_frames = data
        return data


def _decode_answer(provider: Codec, body: bytes) -> ir.Response:
    try:
        return provider.decode_response(body)
    except (msgspec.DecodeError, BadRequest, RecursionError) as error:
        raise UpstreamUnreachable(f"upstream returned an invalid response: {error}") from error
