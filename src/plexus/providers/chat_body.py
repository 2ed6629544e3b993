"""Helpers for adapters that edit a Chat Completions wire body (protocols.md part 5)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


def drop(body: dict[str, Any], keys: Iterable[str]) -> None:
    """Remove `keys` from `body` where present."""
    for key in keys:
        body.pop(key, None)


def assistant_messages(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield the assistant messages of a Chat body, in order."""
    for message in body.get("messages") or ():
        if isinstance(message, dict) and message.get("role") == "assistant":
            yield message


def model_matches(body: dict[str, Any], prefixes: tuple[str, ...]) -> bool:
    """Tell whether the body's model id starts with one of `prefixes` (case-insensitive)."""
    model = body.get("model")
    return isinstance(model, str) and model.lower().startswith(prefixes)
