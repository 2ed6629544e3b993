"""Responses stream converters, one class per direction (style.md rule 8)."""

from __future__ import annotations

from plexus.protocols.responses.stream_decoder import StreamDecoder
from plexus.protocols.responses.stream_encoder import StreamEncoder

__all__ = ["StreamDecoder", "StreamEncoder"]
