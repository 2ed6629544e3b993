"""Reasoning on the Chat wire: OpenRouter `reasoning_details` entries ↔ IR `ThinkingBlock`s.

Chat has no origin field of its own, so the OpenRouter `format` names carry the origin of a
signed token (protocols.md 5.5); anything else counts as an unsigned OpenAI-compatible vendor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plexus import ir
from plexus.protocols.chat import wire
from plexus.protocols.common import untag_token

_FORMAT_ORIGIN: dict[str, ir.Origin] = {
    "anthropic-claude-v1": "anthropic",
    "google-gemini-v1": "gemini",
    "openai-responses-v1": "openai",
}
_ORIGIN_FORMAT: dict[ir.Origin, str] = {origin: name for name, origin in _FORMAT_ORIGIN.items()}
_UNKNOWN_FORMAT = "unknown"


def origin_for_format(format_name: str | None) -> ir.Origin:
    """Return the origin family an OpenRouter `format` names (unknown: openai-compatible)."""
    return _FORMAT_ORIGIN.get(format_name or "", "openai-compatible")


def format_for_origin(origin: ir.Origin | None) -> str:
    """Return the OpenRouter `format` name of an origin family."""
    return _ORIGIN_FORMAT.get(origin or "openai-compatible", _UNKNOWN_FORMAT)


def _token(value: str, origin: ir.Origin) -> tuple[ir.Origin, str]:
    tagged, token = untag_token(value)
    return (tagged or origin), token


def details_to_blocks(
    details: Sequence[wire.ReasoningDetail], call_ids: set[str]
) -> tuple[list[ir.ThinkingBlock], dict[str, ir.ThinkingBlock]]:
    """Return the thinking blocks of `details` and the Gemini tool-call signatures by call id."""
    blocks: list[ir.ThinkingBlock] = []
    call_signatures: dict[str, ir.ThinkingBlock] = {}
    for detail in details:
        origin = origin_for_format(detail.format)
        match detail.type:
            case "reasoning.text" | "reasoning.summary":
                text = (detail.text if detail.type == "reasoning.text" else detail.summary) or ""
                block = ir.ThinkingBlock(text=text, origin=origin)
                if detail.signature:
                    block.origin, block.signature = _token(detail.signature, origin)
                blocks.append(block)
            case "reasoning.encrypted" if detail.data:
                origin, token = _token(detail.data, origin)
                _add_encrypted(blocks, call_signatures, call_ids, detail, origin, token)
            case _:
                pass
    return blocks, call_signatures


def _add_encrypted(
    blocks: list[ir.ThinkingBlock],
    call_signatures: dict[str, ir.ThinkingBlock],
    call_ids: set[str],
    detail: wire.ReasoningDetail,
    origin: ir.Origin,
    token: str,
) -> None:
    if origin == "gemini" and detail.id is not None and detail.id in call_ids:
        call_signatures[detail.id] = ir.ThinkingBlock(signature=token, origin="gemini")
    elif origin == "anthropic":
        blocks.append(ir.ThinkingBlock(redacted=token, origin="anthropic"))
    elif origin == "openai" and blocks and _is_open_summary(blocks[-1]):
        # A Responses reasoning item travels as its summary entry then its encrypted entry.
        blocks[-1].signature, blocks[-1].item_id = token, detail.id
    else:
        blocks.append(ir.ThinkingBlock(signature=token, origin=origin, item_id=detail.id))


def _is_open_summary(block: ir.ThinkingBlock) -> bool:
    return block.origin == "openai" and block.signature is None and block.redacted is None


def needs_details(blocks: Sequence[ir.Block]) -> bool:
    """Tell whether any thinking block holds a token that only `reasoning_details` can carry."""
    return any(
        isinstance(block, ir.ThinkingBlock) and (block.signature or block.redacted)
        for block in blocks
    )


def details_for(block: ir.ThinkingBlock, call_id: str | None = None) -> list[dict[str, Any]]:
    """Return the entries for one thinking block; `call_id` names the call a Gemini token is on."""
    # Keys in wire order: type, text, signature, data, summary, id, format, then `index`.
    format_name = format_for_origin(block.origin)
    if block.redacted:
        return [{"type": "reasoning.encrypted", "data": block.redacted, "format": format_name}]
    if block.origin == "gemini" and block.signature and not block.text:
        entry: dict[str, Any] = {"type": "reasoning.encrypted", "data": block.signature}
        if call_id is not None:
            entry["id"] = call_id
        entry["format"] = format_name
        return [entry]
    if block.origin == "openai" and block.signature:
        entries: list[dict[str, Any]] = []
        if block.text:
            entries.append(
                {"type": "reasoning.summary", "summary": block.text, "format": format_name}
            )
        encrypted: dict[str, Any] = {"type": "reasoning.encrypted", "data": block.signature}
        if block.item_id is not None:
            encrypted["id"] = block.item_id
        encrypted["format"] = format_name
        entries.append(encrypted)
        return entries
    text: dict[str, Any] = {"type": "reasoning.text", "text": block.text}
    if block.signature:
        text["signature"] = block.signature
    text["format"] = format_name
    return [text]


def blocks_to_details(blocks: Sequence[ir.Block]) -> list[dict[str, Any]]:
    """Return the `reasoning_details` of an assistant turn, numbered by `index`."""
    entries: list[dict[str, Any]] = []
    for position, block in enumerate(blocks):
        if not isinstance(block, ir.ThinkingBlock):
            continue
        following = blocks[position + 1] if position + 1 < len(blocks) else None
        call_id = following.id if isinstance(following, ir.ToolCallBlock) else None
        entries.extend(details_for(block, call_id))
    for index, entry in enumerate(entries):
        entry["index"] = index
    return entries


def reasoning_text(blocks: Sequence[ir.Block]) -> str:
    """Return the readable reasoning of a turn, concatenated."""
    return "".join(block.text for block in blocks if isinstance(block, ir.ThinkingBlock))
