"""The wire protocols: one codec package each, all behind the `Codec` surface (codec.py).

`CODECS` is the only list of protocols in the code: a fifth protocol is its package, one line
here and its entry in `ir.ApiType`. mypy checks that every package satisfies `Codec`.
"""

from __future__ import annotations

from plexus.ir import ApiType
from plexus.protocols import chat, gemini, messages, responses
from plexus.protocols.codec import (
    Codec,
    EmbeddingCodec,
    StreamDecoding,
    StreamEncoding,
    Transport,
)

CODECS: dict[ApiType, Codec] = {
    "chat": chat,
    "messages": messages,
    "responses": responses,
    "gemini": gemini,
}

DEFAULT_API: ApiType = "chat"
"""The API whose error format answers a path that no protocol claims (and `/v1/models`)."""

__all__ = [
    "CODECS",
    "DEFAULT_API",
    "Codec",
    "EmbeddingCodec",
    "StreamDecoding",
    "StreamEncoding",
    "Transport",
    "codec_for",
]


def codec_for(api: ApiType) -> Codec:
    """Return the codec of a wire protocol."""
    return CODECS[api]
