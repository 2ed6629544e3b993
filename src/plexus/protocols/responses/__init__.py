"""The OpenAI Responses codec (`POST /v1/responses`, protocols.md part 3)."""

from __future__ import annotations

from plexus.protocols.codec import ConversationCodec, Transport
from plexus.protocols.common import decode_error
from plexus.protocols.counting import decode_count
from plexus.protocols.responses import stored
from plexus.protocols.responses.items import output_items, resolve_items
from plexus.protocols.responses.request_decoder import decode_request, max_output_tokens_of
from plexus.protocols.responses.request_encoder import encode_count_request, encode_request
from plexus.protocols.responses.response import (
    content_length_of,
    decode_response,
    decode_usage_of,
    encode_error,
    encode_response,
    map_stop_reason,
)
from plexus.protocols.responses.stream_decoder import StreamDecoder
from plexus.protocols.responses.stream_encoder import StreamEncoder

EMBEDDINGS = None
"""This protocol has no embeddings operation."""

TRANSPORT = Transport(
    client_path="/v1/responses",
    error_paths=("/v1/responses",),
    client_only_fields=("client_metadata",),  # Codex sends it; only ChatGPT's backend takes it
    error_event="error",
    upstream_path="/responses",
    upstream_stream_path="/responses",
    upstream_count_tokens_path="/responses/input_tokens",
    item_ids=True,
    answers_path="/v1/responses/",
    answer_items_suffix="/input_items",
)
"""Routes, upstream addressing and stream framing of this protocol."""

CONVERSATIONS: ConversationCodec = stored
"""Responses kept by the gateway: `previous_response_id`, retrieval and deletion by id."""

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
