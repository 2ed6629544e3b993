"""Anthropic Messages codec (protocols.md part 2)."""

from __future__ import annotations

from plexus.protocols.messages.request import decode_request
from plexus.protocols.messages.request_encode import encode_request
from plexus.protocols.messages.response import (
    decode_response,
    encode_error,
    encode_response,
    map_stop_reason,
)
from plexus.protocols.messages.stream import StreamDecoder, StreamEncoder

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
