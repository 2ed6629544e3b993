"""The IR signature of an OpenAI reasoning item: `<item id>|<encrypted_content>`."""

from __future__ import annotations


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
