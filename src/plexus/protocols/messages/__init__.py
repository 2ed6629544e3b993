"""Anthropic Messages codec (protocols.md part 2)."""

from __future__ import annotations

from plexus.protocols.codec import Transport
from plexus.protocols.common import decode_error
from plexus.protocols.common import no_item_references as resolve_items
from plexus.protocols.common import no_output_items as output_items
from plexus.protocols.counting import decode_count
from plexus.protocols.messages.request_decoder import decode_request, max_output_tokens_of
from plexus.protocols.messages.request_encoder import encode_count_request, encode_request
from plexus.protocols.messages.response import (
    content_length_of,
    decode_response,
    decode_usage_of,
    encode_error,
    encode_response,
    map_stop_reason,
)
from plexus.protocols.messages.stream_decoder import StreamDecoder
from plexus.protocols.messages.stream_encoder import StreamEncoder

EMBEDDINGS = None
"""This protocol has no embeddings operation."""

TRANSPORT = Transport(
    client_path="/v1/messages",
    count_tokens_path="/v1/messages/count_tokens",
    error_paths=("/v1/messages",),
    keepalive=b'event: ping\ndata: {"type": "ping"}\n\n',  # Anthropic's own ping event
    error_event="error",
    upstream_path="/messages",
    upstream_stream_path="/messages",
    upstream_count_tokens_path="/messages/count_tokens",
    auth_header="x-api-key",
    auth_prefix="",
    default_headers=(("anthropic-version", "2023-06-01"),),
    forwarded_headers=("anthropic-beta", "anthropic-version"),
)
"""Routes, upstream addressing and stream framing of this protocol."""

CONVERSATIONS = None
"""This protocol keeps no answers for its clients."""

__all__ = [
    "CONVERSATIONS",
    "EMBEDDINGS",
    "TRANSPORT",
    "StreamDecoder",
    "StreamEncoder",
    "content_length_of",
    "decode_count",
    "decode_error",
    "decode_request",
    "decode_response",
    "decode_usage_of",
    "encode_count_request",
    "encode_error",
    "encode_request",
    "encode_response",
    "map_stop_reason",
    "max_output_tokens_of",
    "output_items",
    "resolve_items",
]
