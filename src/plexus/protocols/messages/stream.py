"""Messages streaming: both directions (state machines live in their own modules)."""

from __future__ import annotations

from plexus.protocols.messages.stream_decoder import StreamDecoder
from plexus.protocols.messages.stream_encoder import StreamEncoder

__all__ = ["StreamDecoder", "StreamEncoder"]
