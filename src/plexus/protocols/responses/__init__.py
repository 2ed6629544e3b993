"""The OpenAI Responses codec (`POST /v1/responses`, protocols.md part 3)."""

from __future__ import annotations

from plexus.protocols.responses.request import decode_request, encode_request
from plexus.protocols.responses.response import (
    decode_response,
    encode_error,
    encode_response,
    map_stop_reason,
)
from plexus.protocols.responses.stream import StreamDecoder, StreamEncoder

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
