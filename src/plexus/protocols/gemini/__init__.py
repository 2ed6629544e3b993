"""Google Gemini generateContent codec (protocols.md part 4), client and provider side."""

from plexus.protocols.codec import EmbeddingCodec, Transport
from plexus.protocols.common import no_item_references as resolve_items
from plexus.protocols.common import no_output_items as output_items
from plexus.protocols.counting import decode_count
from plexus.protocols.gemini import embeddings
from plexus.protocols.gemini.request_decoder import decode_request, max_output_tokens_of
from plexus.protocols.gemini.request_encoder import encode_count_request, encode_request
from plexus.protocols.gemini.response import (
    content_length_of,
    decode_error,
    decode_response,
    decode_usage_of,
    encode_error,
    encode_response,
    map_stop_reason,
)
from plexus.protocols.gemini.stream_decoder import StreamDecoder
from plexus.protocols.gemini.stream_encoder import StreamEncoder

EMBEDDINGS: EmbeddingCodec = embeddings
"""The embeddings operation of this protocol."""

TRANSPORT = Transport(
    client_path="/v1beta/models/",
    client_path_aliases=("/v1/models/",),  # google-genai 3's default API version
    model_in_url=True,
    url_actions=(("generateContent", False), ("streamGenerateContent", True)),
    error_paths=("/v1beta",),
    # google-genai parses every other line, comments included, as JSON: a blank line it skips.
    keepalive=b"\n",
    operation="generate_content",
    upstream_path=":generateContent",
    upstream_stream_path=":streamGenerateContent?alt=sse",
    upstream_count_tokens_path=":countTokens",
    upstream_embeddings_path=":embedContent",
    upstream_batch_embeddings_path=":batchEmbedContents",
    auth_header="x-goog-api-key",
    auth_prefix="",
    fetches_media_urls=False,  # Gemini reads inline data and its own Files API only
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
