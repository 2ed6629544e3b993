"""Chat Completions streaming: the two state machines, one per direction."""

from __future__ import annotations

from plexus.protocols.chat.stream_decoder import StreamDecoder
from plexus.protocols.chat.stream_encoder import StreamEncoder

__all__ = ["StreamDecoder", "StreamEncoder"]
