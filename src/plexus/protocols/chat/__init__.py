"""OpenAI Chat Completions codec (protocols.md part 1, vendor extensions part 5)."""

from __future__ import annotations

from plexus.protocols.chat.request import decode_request, encode_request
from plexus.protocols.chat.response import (
    decode_response,
    encode_error,
    encode_response,
    map_stop_reason,
)
from plexus.protocols.chat.stream import StreamDecoder, StreamEncoder

__all__ = [
    "StreamDecoder",
    "StreamEncoder",
    "decode_request",
    "decode_response",
    "encode_error",
    "encode_request",
    "encode_response",
    "map_stop_reason",
]
