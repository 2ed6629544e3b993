"""Groq (protocols.md 5.3): fields it rejects are removed, efforts mapped per model family,
reasoning asked for in the parsed `reasoning` field and replayed under that name."""

from __future__ import annotations

from typing import Any

from plexus import ir
from plexus.providers.base import Adapter
from plexus.providers.chat_body import assistant_messages, drop, model_matches

# "will result in a 400 error if they are supplied" (console.groq.com/docs/openai).
_REJECTED = ("logprobs", "top_logprobs", "logit_bias")

# Reasoning models (console.groq.com/docs/reasoning); others 400 on reasoning parameters.
_GPT_OSS = ("openai/gpt-oss",)
_QWEN = ("qwen/qwen3", "qwen-qwq", "deepseek-r1")
_GPT_OSS_EFFORT = {"none": "low", "minimal": "low", "xhigh": "high", "max": "high"}


class GroqAdapter(Adapter):
    """Adapts Chat bodies for api.groq.com/openai/v1."""

    def patch_body(self, body: dict[str, Any], request: ir.Request | None = None) -> dict[str, Any]:
        """Drop rejected fields, map reasoning controls, and rename replayed reasoning."""
        drop(body, _REJECTED)
        if body.get("n") == 1:
            del body["n"]  # "if N is supplied, it must be equal to 1"
        elif "n" in body:
            body["n"] = 1
        _map_reasoning(body)
        for message in body.get("messages") or ():
            if isinstance(message, dict):
                message.pop("name", None)  # messages[].name is rejected too
        for message in assistant_messages(body):
            _rename_reasoning(message)
        return body


def _map_reasoning(body: dict[str, Any]) -> None:
    effort = body.pop("reasoning_effort", None)
    if model_matches(body, _GPT_OSS):
        if isinstance(effort, str):
            body["reasoning_effort"] = _GPT_OSS_EFFORT.get(effort, effort)
    elif model_matches(body, _QWEN):
        if isinstance(effort, str):
            body["reasoning_effort"] = "none" if effort == "none" else "default"
        if "include_reasoning" not in body:
            # Qwen defaults to <think> tags inside content; ask for the separate field.
            body.setdefault("reasoning_format", "parsed")


def _rename_reasoning(message: dict[str, Any]) -> None:
    """Groq takes earlier reasoning as `reasoning` and 400s on `reasoning_content`."""
    text = message.pop("reasoning_content", None)
    message.pop("reasoning_details", None)
    if text and not message.get("reasoning"):
        message["reasoning"] = text
