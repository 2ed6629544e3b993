"""OpenAI Chat Completions codec (protocols.md part 1, vendor extensions part 5)."""

from __future__ import annotations

from plexus.protocols.chat import embeddings
from plexus.protocols.chat.request_decoder import decode_request, max_output_tokens_of
from plexus.protocols.chat.request_encoder import encode_request
from plexus.protocols.chat.response import (
    content_length_of,
    decode_response,
    decode_usage_of,
    encode_error,
    encode_response,
    is_usage_chunk,
    map_stop_reason,
)
from plexus.protocols.chat.stream_decoder import StreamDecoder
from plexus.protocols.chat.stream_encoder import StreamEncoder
from plexus.protocols.codec import EmbeddingCodec, StreamUsageOption, Transport
from plexus.protocols.common import decode_error
from plexus.protocols.common import no_item_references as resolve_items
from plexus.protocols.common import no_output_items as output_items
from plexus.protocols.counting import decode_count
from plexus.protocols.counting import no_counter as encode_count_request

EMBEDDINGS: EmbeddingCodec = embeddings
"""The embeddings operation of this protocol."""

TRANSPORT = Transport(
    client_path="/v1/chat/completions",
    embeddings_path="/v1/embeddings",
    completions_path="/v1/completions",
    upstream_path="/chat/completions",
    upstream_stream_path="/chat/completions",
    upstream_embeddings_path="/embeddings",
    upstream_completions_path="/completions",
    stream_usage=StreamUsageOption("stream_options", "include_usage", is_usage_chunk),
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
