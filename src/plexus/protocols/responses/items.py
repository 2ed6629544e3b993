"""Output items the gateway issued, referred to again by id (`item_reference`, issue 11 bug 8).

The AI SDK's default OpenAI provider sends earlier turns as `{"type": "item_reference", "id"}`
with the ids of items it received. On a translated route those ids are the gateway's own, so
the items are kept (by the caller, bounded) and put back in place of their references.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from plexus.errors import BadRequest

_REFERENCE = b'"item_reference"'


class _Output(msgspec.Struct):
    output: list[msgspec.Raw] = msgspec.field(default_factory=list)


class _Answer(msgspec.Struct):
    """A response body, or a stream event carrying the finished response."""

    output: list[msgspec.Raw] | None = None
    response: _Output | None = None


class _ItemId(msgspec.Struct):
    id: str | None = None


_answer = msgspec.json.Decoder(_Answer)
_item_id = msgspec.json.Decoder(_ItemId)


def output_items(data: bytes) -> list[tuple[str, bytes]]:
    """The (id, item JSON) of every output item of a response body or final stream event."""
    try:
        answer = _answer.decode(data)
    except msgspec.DecodeError:
        return []
    raw = answer.output if answer.output is not None else (answer.response or _Output()).output
    items: list[tuple[str, bytes]] = []
    for item in raw:
        item_id = _item_id.decode(item).id
        if item_id:
            items.append((item_id, bytes(item)))
    return items


def resolve_items(body: bytes, lookup: Callable[[str], bytes | None]) -> bytes:
    """`body` with every `item_reference` replaced by the item it names; an id the gateway
    does not hold is a 400, never a turn silently dropped."""
    if _REFERENCE not in body:
        return body
    data: dict[str, Any] = msgspec.json.decode(body)
    items = data.get("input")
    if not isinstance(items, list):
        return body
    resolved: list[Any] = []
    for position, item in enumerate(items):
        if isinstance(item, dict) and item.get("type") == "item_reference":
            stored = lookup(str(item.get("id")))
            if stored is None:
                raise BadRequest(
                    f"item_reference {item.get('id')!r} at $.input[{position}] names no item "
                    "this gateway holds (it keeps recent ones for a while): send the item itself",
                    param=f"input[{position}]",
                )
            resolved.append(msgspec.Raw(stored))
        else:
            resolved.append(item)
    data["input"] = resolved
    return msgspec.json.encode(data)
