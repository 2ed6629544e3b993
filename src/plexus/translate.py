"""Different APIs on the two sides: client codec → IR → provider codec, and back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from types import ModuleType

import msgspec

from plexus import http, ir, sse
from plexus.errors import BadRequest, GatewayError, UpstreamUnreachable
from plexus.media import inline_remote_images
from plexus.protocols import codec_for
from plexus.providers import adapter_for
from plexus.providers.base import Adapter
from plexus.proxy import Call, decode_request, ping_bytes, upstream_error
from plexus.routing import Target
from plexus.upstream.addressing import upstream_headers, upstream_url
from plexus.upstream.client import Upstream


async def translate(upstream: Upstream, call: Call, target: Target) -> None:
    """Serve `call` from a provider of another API type."""
    client = codec_for(call.client_api)
    provider = codec_for(target.provider.type)
    adapter = adapter_for(target.provider.adapter)
    request = decode_request(client, call.body)
    if call.url_model is not None:
        request.model, request.stream = call.url_model, call.url_stream
    outgoing = adapter.prepare_request(msgspec.structs.replace(request, model=target.model))
    if target.provider.type == "gemini":
        await inline_remote_images(upstream, outgoing)
    payload = adapter.patch_body(provider.encode_request(outgoing), outgoing)
    if target.provider.extra_body:
        payload.update(target.provider.extra_body)
    body = msgspec.json.encode(payload)
    url = upstream_url(target, request.stream)
    headers = upstream_headers(target, request.stream)
    timeouts = target.provider.timeouts
    if not request.stream:
        answer = await upstream.full(url, headers, body, timeouts)
        call.first_byte = time.perf_counter()
        if answer.status >= 400:
            raise upstream_error(answer.status, answer.body, answer.headers)
        response = adapter.patch_response(_decode_answer(provider, answer.body))
        call.usage = msgspec.to_builtins(response.usage)
        call.status = 200
        await http.send_body(call.send, 200, client.encode_response(response, request))
        return
    async with upstream.stream(url, headers, body, timeouts) as streamed:
        if streamed.status >= 400:
            error_body = await streamed.read()
            raise upstream_error(streamed.status, error_body, streamed.headers)
        converter = _StreamConverter(call, provider, client, adapter, request)
        await converter.run(streamed.chunks())


class _StreamConverter:
    """Feeds upstream bytes through framing, the provider's decoder and the client's encoder,
    writing everything one upstream read produced in one send."""

    def __init__(
        self,
        call: Call,
        provider: ModuleType,
        client: ModuleType,
        adapter: Adapter,
        request: ir.Request,
    ) -> None:
        self.call = call
        self.adapter = adapter
        self.framing = sse.Decoder()
        self.decoder = provider.StreamDecoder()
        self.encoder = client.StreamEncoder(request)
        self.usage: ir.Usage | None = None
        # Most adapters leave stream events alone: skip the per-event call for them.
        overridden = type(adapter).patch_event is not Adapter.patch_event
        self.patch_event = adapter.patch_event if overridden else None

    def _convert(self, events: list[ir.StreamEvent]) -> list[bytes]:
        out: list[bytes] = []
        patch = self.patch_event
        for event in events:
            patched = patch(event) if patch is not None else event
            if patched is None:
                continue
            # `type() is`: a Struct isinstance that misses, as on nearly every event, is costly.
            if type(patched) is ir.UsageUpdate or type(patched) is ir.Finish:
                self.usage = patched.usage or self.usage
            out.extend(self.encoder.feed(patched))
        return out

    async def run(self, chunks: AsyncIterator[bytes]) -> None:
        call = self.call
        call.status, call.response_started = 200, True
        await http.start_stream(call.send)
        out: list[bytes] = []
        try:
            async for chunk in chunks:
                if not chunk:
                    await http.send_chunk(call.send, ping_bytes(call.client_api))
                    continue
                out = []
                if call.first_byte is None:
                    call.first_byte = time.perf_counter()
                    out = await self._send_first(chunk)
                else:
                    for event in self.framing.feed(chunk):
                        out.extend(self._convert(self.decoder.feed(event)))
                if out:
                    await http.send_chunk(call.send, b"".join(out))
            out = []
            for event in self.framing.flush():
                out.extend(self._convert(self.decoder.feed(event)))
            out.extend(self._convert(self.decoder.finish()))
        except GatewayError as error:
            out = self._convert([ir.StreamError(error.message, error.kind, error.status)])
        out.extend(self.encoder.finish())
        await http.send_chunk(call.send, b"".join(out))
        await http.end_stream(call.send)
        if self.usage is not None:
            call.usage = msgspec.to_builtins(self.usage)

    async def _send_first(self, chunk: bytes) -> list[bytes]:
        """Convert the first upstream read, sending the first frames it yields at once rather
        than after the whole read (which may hold a burst of events); return the rest."""
        out: list[bytes] = []
        sent = False
        for event in self.framing.feed(chunk):
            out.extend(self._convert(self.decoder.feed(event)))
            if out and not sent:
                sent = True
                await http.send_chunk(self.call.send, b"".join(out))
                out = []
        return out


def _decode_answer(provider: ModuleType, body: bytes) -> ir.Response:
    try:
        response: ir.Response = provider.decode_response(body)
    except (msgspec.DecodeError, BadRequest) as error:
        raise UpstreamUnreachable(f"upstream returned an invalid response: {error}") from error
    return response
