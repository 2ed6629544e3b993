"""Reasoning items and the IR signature of an OpenAI one: `<item id>|<encrypted_content>`."""

from __future__ import annotations

from plexus import ir
from plexus.protocols import common

# A redacted Anthropic block travels as a tagged token with this prefix (":" is not base64).
REDACTED_PREFIX = "redacted:"


def pack_token(item_id: str | None, token: str) -> str:
    """Join a reasoning item id and its encrypted_content into one IR signature, so the id
    survives clients that have no slot for it (OpenAI wants both back)."""
    return f"{item_id}|{token}" if item_id else token


def unpack_token(signature: str, item_id: str | None) -> tuple[str | None, str]:
    """Split an IR signature into (item id, encrypted_content); `item_id` is the fallback."""
    head, separator, rest = signature.partition("|")
    if separator and head.startswith("rs_"):
        return head, rest
    return item_id, signature


def thinking_from_reasoning(item_id: str | None, text: str, token: str | None) -> ir.ThinkingBlock:
    """Build a ThinkingBlock from a reasoning item, untagging a gateway-tagged token.

    Readable text without a token has no origin: any target that takes unsigned reasoning may
    replay it.
    """
    if token is None:
        return ir.ThinkingBlock(text=text, item_id=item_id)
    origin, raw = common.untag_token(token)
    if origin is None or origin == "openai":
        signature = pack_token(item_id, raw)
        return ir.ThinkingBlock(text=text, signature=signature, origin="openai", item_id=item_id)
    if origin == "anthropic" and raw.startswith(REDACTED_PREFIX):
        return ir.ThinkingBlock(text=text, redacted=raw[len(REDACTED_PREFIX) :], origin=origin)
    return ir.ThinkingBlock(text=text, signature=raw, origin=origin, item_id=item_id)
