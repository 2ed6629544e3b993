"""OpenRouter (protocols.md 5.5): the `reasoning` request object instead of `reasoning_effort`,
`reasoning_details` replayed whatever family signed them, usage always asked for.

Its `: OPENROUTER PROCESSING` keep-alives are SSE comments, which `sse.Decoder` skips, and its
`reasoning` / `reasoning_details` output fields are read by the chat codec.
"""

from __future__ import annotations

from typing import Any

from plexus import ir
from plexus.protocols.chat.reasoning import blocks_to_details, needs_details
from plexus.providers.base import Adapter
from plexus.providers.chat_body import assistant_messages


class OpenRouterAdapter(Adapter):
    """Adapts Chat bodies for openrouter.ai/api/v1."""

    include_usage = True

    def patch_body(self, body: dict[str, Any], request: ir.Request | None = None) -> dict[str, Any]:
        """Move the effort into `reasoning` and replay every signed reasoning token."""
        effort = body.pop("reasoning_effort", None)
        if "reasoning" not in body:
            reasoning = _reasoning_object(effort, request)
            if reasoning is not None:
                body["reasoning"] = reasoning
        if self.include_usage:
            body.setdefault("usage", {"include": True})
        if request is not None:
            _replay_details(body, request)
        return body


def _reasoning_object(effort: object, request: ir.Request | None) -> dict[str, Any] | None:
    """`effort` and `max_tokens` are exclusive; an explicit IR budget wins over the effort the
    chat codec derived from it."""
    reasoning = request.reasoning if request is not None else None
    if reasoning is not None and reasoning.enabled and reasoning.budget_tokens is not None:
        return {"max_tokens": reasoning.budget_tokens}
    if isinstance(effort, str):
        return {"effort": effort}
    return None


def _replay_details(body: dict[str, Any], request: ir.Request) -> None:
    """The chat codec replays only OpenAI-compatible tokens; OpenRouter routes a token back to
    the family that signed it (Claude, Gemini, OpenAI), so every one goes back unchanged."""
    turns = [message for message in request.messages if message.role == "assistant"]
    for message, turn in zip(assistant_messages(body), turns, strict=False):
        if needs_details(turn.content):
            message["reasoning_details"] = blocks_to_details(turn.content)
