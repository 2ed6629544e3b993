"""The one loop that relays an upstream stream to the client, for passthrough and translation.

A `StreamConverter` turns upstream bytes into client bytes; the loop owns everything else: the
SSE head, keep-alives while the upstream is silent, one `send` per upstream read (coalescing
everything a read produced), the first frames sent before the rest of a first burst is
converted, and an upstream failure turned into the protocol's own error frame.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from plexus import ir
from plexus.call import ResponseWriter
from plexus.errors import GatewayError, UpstreamUnreachable


class StreamConverter(Protocol):
    """Upstream stream bytes in, client stream bytes out."""

    @property
    def at_boundary(self) -> bool:
        """Whether a keep-alive may be sent now (between two whole client events)."""
        ...

    @property
    def usage(self) -> ir.Usage | None:
        """The usage seen so far (final once `finish()` returned)."""
        ...

    def feed(self, chunk: bytes) -> bytes:
        """Convert one upstream read."""
        ...

    def feed_first(self, chunk: bytes) -> bytes:
        """Convert the first upstream read up to its first client frame; `drain()` the rest."""
        ...

    def drain(self) -> bytes:
        """Convert what `feed_first` left."""
        ...

    def finish(self) -> bytes:
        """End the client stream after the upstream's ended."""
        ...

    def fail(self, error: GatewayError) -> bytes:
        """End the client stream with the protocol's error frame."""
        ...


async def relay(
    writer: ResponseWriter,
    chunks: AsyncIterator[bytes],
    converter: StreamConverter,
    keepalive: bytes,
) -> None:
    """Relay an upstream stream (`b""` from `chunks` means silence) through `converter`."""
    await writer.start_stream()
    first = True
    try:
        async for chunk in chunks:
            if not chunk:
                if converter.at_boundary:
                    await writer.keepalive(keepalive)
                continue
            if first:
                first = False
                head = converter.feed_first(chunk)
                if head:
                    await writer.chunk(head)
                out = converter.drain()
            else:
                out = converter.feed(chunk)
            if out:
                await writer.chunk(out)
        tail = converter.finish()
    except GatewayError as error:
        tail = converter.fail(error)
    except RecursionError:  # an upstream event nested deeper than the decoder goes
        tail = converter.fail(UpstreamUnreachable("the provider sent JSON nested too deeply"))
    await writer.end_stream(tail)
