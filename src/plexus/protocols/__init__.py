"""One codec per wire protocol, all with the same surface (style.md rule 6).

Each codec module offers:

- `decode_request(body: bytes) -> ir.Request`: client wire body to IR; raises `BadRequest` with
  the JSON path of the problem. (Gemini: the model and stream flag come from the URL; the caller
  sets `request.model` and `request.stream` afterwards.)
- `encode_request(request: ir.Request) -> dict[str, Any]`: IR to the upstream JSON body (the
  caller adds `extra_body` and serialises). Gemini's body has no model: the URL carries it.
- `decode_response(body: bytes) -> ir.Response`: upstream non-streamed body to IR.
- `encode_response(response: ir.Response, request: ir.Request) -> bytes`: IR to the client's
  body; `request` is the client's decoded request (for fields a protocol echoes).
- `StreamDecoder()`: `feed(event: sse.Event) -> list[ir.StreamEvent]` and `finish()`, which
  closes open blocks and reports a missing terminator as `ir.StreamError`.
- `StreamEncoder(request: ir.Request)`: `feed(event: ir.StreamEvent) -> list[bytes]` of framed
  SSE events, and `finish() -> list[bytes]` that ends the stream the way the protocol ends it.
- `encode_error(status: int, message: str, kind: str) -> bytes`: the protocol's error body.
- `map_stop_reason(raw: str | None) -> ir.StopReason`: upstream value to the closed set.

Codecs are pure: no I/O, no clock reads beyond ids and timestamps, no logging.
"""

from __future__ import annotations

import functools
from types import ModuleType

from plexus.ir import ApiType


@functools.cache
def codec_for(api: ApiType) -> ModuleType:
    """Return the codec module of a wire protocol."""
    from plexus.protocols import chat, gemini, messages, responses

    return {"chat": chat, "messages": messages, "responses": responses, "gemini": gemini}[api]
