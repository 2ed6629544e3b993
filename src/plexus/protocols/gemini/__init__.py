"""Google Gemini generateContent codec (protocols.md part 4), client and provider side."""

from plexus.protocols.gemini.request import decode_request, encode_request
from plexus.protocols.gemini.response import (
    decode_response,
    encode_error,
    encode_response,
    map_stop_reason,
)
from plexus.protocols.gemini.stream import StreamDecoder, StreamEncoder

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
