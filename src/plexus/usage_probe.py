"""Reads token usage out of passthrough bodies and stream tails, for the request log line."""

from __future__ import annotations

from typing import Any

import msgspec

from plexus import sse


class _UsageView(msgspec.Struct):
    usage: dict[str, Any] | None = None
    usageMetadata: dict[str, Any] | None = None
    response: _UsageView | None = None  # Responses stream events nest the response


_decoder = msgspec.json.Decoder(_UsageView)
TAIL_BYTES = 16 * 1024


def usage_from_body(body: bytes) -> dict[str, Any] | None:
    """Return the usage object of a JSON answer, if it has one."""
    try:
        view = _decoder.decode(body)
    except msgspec.DecodeError:
        return None
    return _pick(view)


def usage_from_stream_tail(tail: bytes) -> dict[str, Any] | None:
    """Return the last usage object found in the last events of a stream."""
    start = tail.find(b"\n\n")
    events = sse.Decoder().feed(tail[start + 2 :] if start >= 0 else tail)
    for event in reversed(events):
        if "sage" not in event.data:  # usage or usageMetadata; cheap pre-filter
            continue
        found = usage_from_body(event.data.encode())
        if found:
            return found
    return None


def _pick(view: _UsageView) -> dict[str, Any] | None:
    if view.usage:
        return view.usage
    if view.usageMetadata:
        return view.usageMetadata
    if view.response is not None:
        return _pick(view.response)
    return None
