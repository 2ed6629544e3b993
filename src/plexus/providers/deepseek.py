"""DeepSeek (protocols.md 5.2): `max_tokens`, its thinking toggle and efforts, and
`reasoning_content` echoed on assistant turns in thinking mode."""

from __future__ import annotations

from typing import Any

from plexus import ir
from plexus.providers.base import Adapter
from plexus.providers.chat_body import drop

# DeepSeek takes low | high | max and maps minimal→low, medium→high itself; we send only
# values it documents.
_EFFORT = {
    "minimal": "low",
    "low": "low",
    "medium": "high",
    "high": "high",
    "xhigh": "max",
    "max": "max",
}

# The legacy alias that never thinks unless asked.
_NON_THINKING_MODELS = ("deepseek-chat",)

# Rejected in thinking mode (400), per api-docs.deepseek.com/guides/thinking_mode.
_THINKING_REJECTS = ("logprobs", "top_logprobs")

# V4 Pro rejects an empty `reasoning_content`; a single space passes (observed,
# NousResearch/hermes-agent#17341).
_PLACEHOLDER = " "


class DeepSeekAdapter(Adapter):
    """Adapts Chat bodies for api.deepseek.com; `strip_reasoning` is for R1-era deployments
    that answer 400 to `reasoning_content` in the input."""

    def __init__(self, strip_reasoning: bool = False) -> None:
        self.strip_reasoning = strip_reasoning

    def patch_body(self, body: dict[str, Any], request: ir.Request | None = None) -> dict[str, Any]:
        """Rename the token limit, map the effort, and replay reasoning as DeepSeek needs it."""
        limit = body.pop("max_completion_tokens", None)
        if limit is not None:
            body.setdefault("max_tokens", limit)
        _map_effort(body)
        thinking = _thinks(body)
        if thinking:
            drop(body, _THINKING_REJECTS)
        self._patch_history(body, thinking)
        return body

    def _patch_history(self, body: dict[str, Any], thinking: bool) -> None:
        last_user = _last_user_index(body)
        for position, message in enumerate(body.get("messages") or ()):
            if not isinstance(message, dict) or message.get("role") != "assistant":
                continue
            message.pop("reasoning_details", None)
            message.pop("reasoning", None)
            if self.strip_reasoning:
                message.pop("reasoning_content", None)
                continue
            # Thinking mode: tool-call turns, and every turn after the last user message, must
            # carry reasoning_content or the API answers 400 (protocols.md 5.2).
            needed = bool(message.get("tool_calls")) or position > last_user
            if thinking and needed and not message.get("reasoning_content"):
                message["reasoning_content"] = _PLACEHOLDER


def _map_effort(body: dict[str, Any]) -> None:
    effort = body.pop("reasoning_effort", None)
    if effort == "none":
        body.setdefault("thinking", {"type": "disabled"})
    elif isinstance(effort, str):
        body["reasoning_effort"] = _EFFORT.get(effort, "high")


def _thinks(body: dict[str, Any]) -> bool:
    """Whether the request runs in thinking mode (on by default for current models)."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled"):
        return bool(thinking["type"] == "enabled")
    model = body.get("model")
    return not (isinstance(model, str) and model in _NON_THINKING_MODELS)


def _last_user_index(body: dict[str, Any]) -> int:
    last = -1
    for position, message in enumerate(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            last = position
    return last
