"""Providers' own token counters (protocols.md 2.11, 3.x, 4.x): the request each takes, built
from the IR with the protocol's request encoder, and the count each answers."""

from __future__ import annotations

from typing import Any

import msgspec

from plexus import ir
from plexus.errors import UpstreamUnreachable

# What each counter accepts of a generation body: anything else is refused by the API.
_MESSAGES_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking")
_RESPONSES_FIELDS = (
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
    "reasoning", "text", "truncation",
)  # fmt: skip


def messages_count_request(body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/messages/count_tokens` takes the prompt half of a Messages body."""
    return {key: body[key] for key in _MESSAGES_FIELDS if key in body}


def responses_count_request(body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/responses/input_tokens` takes the prompt half of a Responses body."""
    return {key: body[key] for key in _RESPONSES_FIELDS if key in body}


def gemini_count_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """`models/{model}:countTokens` takes a whole generateContent request."""
    return {"generateContentRequest": {"model": f"models/{model}", **body}}


class _Count(msgspec.Struct):
    input_tokens: int | None = None  # Messages, Responses
    totalTokens: int | None = None


_count = msgspec.json.Decoder(_Count)


def decode_count(body: bytes) -> int:
    """The count in any of the three counters' answers."""
    try:
        answer = _count.decode(body)
    except msgspec.DecodeError as error:
        raise UpstreamUnreachable(f"the provider's token count is not valid: {error}") from error
    count = answer.input_tokens if answer.input_tokens is not None else answer.totalTokens
    if count is None:
        raise UpstreamUnreachable("the provider's token count answer has no count")
    return count


def no_counter(request: ir.Request) -> None:
    """A protocol with no token counter of its own."""
    return None
