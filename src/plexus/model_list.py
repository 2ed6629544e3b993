"""`GET /v1/models` and `GET /v1/models/{id}`, in OpenAI's format or, for Anthropic SDK
clients (they send `anthropic-version`), in Anthropic's."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from plexus.errors import NotFound
from plexus.routing import ModelEntry

_EPOCH_ISO = "1970-01-01T00:00:00Z"


def list_body(entries: list[ModelEntry], anthropic: bool) -> bytes:
    """The model list."""
    items = [_item(entry, anthropic) for entry in entries]
    if anthropic:
        return msgspec.json.encode(
            {
                "data": items,
                "has_more": False,
                "first_id": items[0]["id"] if items else None,
                "last_id": items[-1]["id"] if items else None,
            }
        )
    return msgspec.json.encode({"object": "list", "data": items})


def one_body(entries: list[ModelEntry], model: str, anthropic: bool) -> bytes:
    """One model, or NotFound."""
    for entry in entries:
        if entry.id == model:
            return msgspec.json.encode(_item(entry, anthropic))
    raise NotFound(f"The model '{model}' does not exist or is not configured.", param="model")


def _item(entry: ModelEntry, anthropic: bool) -> dict[str, Any]:
    if anthropic:
        return {
            "type": "model",
            "id": entry.id,
            "display_name": entry.id,
            "created_at": _EPOCH_ISO,
        }
    return {
        "id": entry.id,
        "object": "model",
        "created": int(time.time()),
        "owned_by": entry.owned_by,
    }
