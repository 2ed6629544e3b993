"""Cerebras (protocols.md 5.4): fields it rejects are removed, efforts mapped, reasoning asked
for in the parsed `reasoning` field; earlier reasoning is not replayed (it keeps none)."""

from __future__ import annotations

from typing import Any

from plexus import ir
from plexus.providers.base import Adapter
from plexus.providers.chat_body import assistant_messages, drop, model_matches

# "These fields will result in a 400 error" (inference-docs.cerebras.ai, OpenAI compatibility).
_REJECTED = (
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "parallel_tool_calls",
    "service_tier",
)
_GPT_OSS = ("gpt-oss",)
_RAW_BY_DEFAULT = ("qwen-3", "qwen3")  # the model default is <think> tags inside content
_EFFORT = {"none": "low", "minimal": "low", "xhigh": "high", "max": "high"}


class CerebrasAdapter(Adapter):
    """Adapts Chat bodies for api.cerebras.ai/v1."""

    def patch_body(self, body: dict[str, Any], request: ir.Request | None = None) -> dict[str, Any]:
        """Drop rejected fields, map reasoning controls, and strip replayed reasoning."""
        drop(body, _REJECTED)
        effort = body.pop("reasoning_effort", None)
        if model_matches(body, _GPT_OSS) and isinstance(effort, str):
            body["reasoning_effort"] = _EFFORT.get(effort, effort)
        if model_matches(body, _RAW_BY_DEFAULT):
            body.setdefault("reasoning_format", "parsed")
        for message in assistant_messages(body):
            drop(message, ("reasoning_content", "reasoning", "reasoning_details"))
        return body
