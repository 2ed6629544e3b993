"""Shapes IR messages into turns Anthropic accepts (protocols.md 2.3, 6.3, 6.8, 8.10-12).

System messages are hoisted into `system`; every turn alternates, starts with `user`, has no
empty text; each assistant turn's `tool_use` blocks are answered by `tool_result` blocks placed
first in the very next user turn; tokens of other origins are dropped, never forged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plexus import ir
from plexus.protocols import common
from plexus.protocols.messages.server_tools import encode_for_provider

_NO_OUTPUT = "(no output)"
_INTERRUPTED = "tool call was interrupted"
_CONTINUE = "(continue)"

Json = dict[str, Any]


@dataclass
class _Turn:
    role: str
    results: list[Json] = field(default_factory=list)
    others: list[Json] = field(default_factory=list)

    def call_ids(self) -> list[str]:
        return [block["id"] for block in self.others if block["type"] == "tool_use"]

    def content(self) -> list[Json]:
        return self.results + self.others


def encode_messages(request: ir.Request) -> tuple[list[Json], list[Json]]:
    """Return the `system` blocks and the `messages` array for an Anthropic upstream."""
    system = [_text(block.text, block.cache) for block in request.system if block.text]
    turns: list[_Turn] = []
    for message in request.messages:
        if message.role == "system":
            system.extend(
                _text(block.text, block.cache)
                for block in message.content
                if isinstance(block, ir.TextBlock) and block.text
            )
            continue
        turn = _encode_turn(message)
        if not turn.content():
            continue
        if turns and turns[-1].role == turn.role:
            turns[-1].results.extend(turn.results)
            turns[-1].others.extend(turn.others)
        else:
            turns.append(turn)
    turns = _pair_results(turns)
    if turns and turns[0].role != "user":
        turns.insert(0, _Turn("user", others=[_text(_CONTINUE, None)]))
    return system, [{"role": turn.role, "content": turn.content()} for turn in turns]


_THINKING = frozenset({"thinking", "redacted_thinking"})


def _encode_turn(message: ir.Message) -> _Turn:
    turn = _Turn(message.role)
    for block in message.content:
        if isinstance(block, ir.ToolResultBlock):
            turn.results.append(_encode_result(block))
            continue
        encoded = _encode_block(block)
        if encoded is not None:
            turn.others.append(encoded)
    if message.role == "assistant":
        # Thinking opens an assistant turn (the API refuses it after text or a call); one a
        # client gave back on a later part (Gemini's functionCall) moves to the front.
        turn.others.sort(key=lambda block: block["type"] not in _THINKING)
    return turn


def _pair_results(turns: list[_Turn]) -> list[_Turn]:
    paired: list[_Turn] = []
    pending: list[str] = []
    for turn in turns:
        if turn.role == "assistant":
            if pending:
                paired.append(_Turn("user", results=[_interrupted(id_) for id_ in pending]))
            pending = turn.call_ids()
            paired.append(turn)
            continue
        results: list[Json] = []
        for result in turn.results:
            if result["tool_use_id"] in pending and all(
                result["tool_use_id"] != kept["tool_use_id"] for kept in results
            ):
                results.append(result)
            else:
                # A result without a call in the previous turn is a 400 upstream: keep its text.
                turn.others.insert(0, _orphan_text(result))
        answered = {result["tool_use_id"] for result in results}
        results.extend(_interrupted(id_) for id_ in pending if id_ not in answered)
        turn.results = results
        pending = []
        paired.append(turn)
    return paired


def cache_control(cache: ir.CacheHint | None) -> Json | None:
    """Return the `cache_control` object of a cache hint."""
    if cache is None:
        return None
    control: Json = {"type": "ephemeral"}
    if cache.ttl:
        control["ttl"] = cache.ttl
    return control


def _with_cache(block: Json, cache: ir.CacheHint | None) -> Json:
    control = cache_control(cache)
    if control is not None:
        block["cache_control"] = control
    return block


def _text(text: str, cache: ir.CacheHint | None) -> Json:
    return _with_cache({"type": "text", "text": text}, cache)


def _encode_block(block: ir.Block) -> Json | None:
    match block:
        case ir.TextBlock(text=text, cache=cache):
            return _text(text, cache) if text else None
        case ir.RefusalBlock(text=text):
            return _text(text, None) if text else None
        case ir.ImageBlock():
            return _encode_image(block)
        case ir.DocumentBlock():
            return _encode_document(block)
        case ir.ToolCallBlock(id=call_id, name=name, arguments=arguments):
            return {
                "type": "tool_use",
                "id": common.anthropic_tool_id(call_id),
                "name": name,
                "input": common.parse_arguments(arguments),
            }
        case ir.ThinkingBlock():
            return _encode_thinking(block)
        case ir.ServerToolCallBlock() | ir.ServerToolResultBlock():
            return encode_for_provider(block)
        case _:
            return None


def _encode_thinking(block: ir.ThinkingBlock) -> Json | None:
    # Only Anthropic-minted tokens go back, byte-exact; anything else is dropped (6.9 rule 2).
    if block.origin != "anthropic":
        return None
    if block.redacted:
        return {"type": "redacted_thinking", "data": block.redacted}
    if block.signature and block.text:
        return {"type": "thinking", "thinking": block.text, "signature": block.signature}
    return None  # a signature without its text (a client dropped it) would fail verification


def _source(url: str | None, data: str | None, media_type: str | None) -> Json | None:
    if url:
        parsed = common.parse_data_url(url)
        if parsed is None:
            return {"type": "url", "url": common.portable_url(url)}
        media_type, data = parsed
    if not data:
        return None
    return {"type": "base64", "media_type": media_type, "data": data}


def _encode_image(block: ir.ImageBlock) -> Json | None:
    source = _source(block.url, block.data, block.media_type or "image/png")
    if source is None:
        return None
    return _with_cache({"type": "image", "source": source}, block.cache)


def _encode_document(block: ir.DocumentBlock) -> Json | None:
    if block.text is not None and not block.data and not block.url:
        if not block.text:
            return None
        source: Json | None = {"type": "text", "media_type": "text/plain", "data": block.text}
    else:
        source = _source(block.url, block.data, block.media_type or "application/pdf")
    if source is None:
        return None
    document: Json = {"type": "document", "source": source}
    title = block.title or block.filename
    if title:
        document["title"] = title
    return _with_cache(document, block.cache)


def _encode_result(block: ir.ToolResultBlock) -> Json:
    content: list[Json] = []
    for item in block.content:
        encoded = _encode_block(item)
        if encoded is not None:
            content.append(encoded)
    result: Json = {
        "type": "tool_result",
        "tool_use_id": common.anthropic_tool_id(block.call_id),
        "content": content or _NO_OUTPUT,
    }
    if block.is_error:
        result["is_error"] = True
    return _with_cache(result, block.cache)


def _interrupted(call_id: str) -> Json:
    return {
        "type": "tool_result",
        "tool_use_id": call_id,
        "content": _INTERRUPTED,
        "is_error": True,
    }


def _orphan_text(result: Json) -> Json:
    content = result["content"]
    if isinstance(content, list):
        content = "\n".join(item.get("text", "") for item in content if item["type"] == "text")
    return _text(f"[tool result {result['tool_use_id']}]: {content or _NO_OUTPUT}", None)
