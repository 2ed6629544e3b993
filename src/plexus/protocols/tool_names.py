"""Tool names every provider accepts, and the way back to the names the client declared.

Gemini takes `.` and `:` (MCP-style `server.tool`) and 128 characters; Chat, Messages and
Responses take `[a-zA-Z0-9_-]{1,64}`; Gemini wants a letter or `_` first, which Chat allows to
be a digit. The translation path (translate.py) renames toward the rule all four share
(protocols.md 6.5) before a provider codec encodes, with a deterministic function, so no state
is kept: it rebuilds the reverse map from the tools of the client's request and shows tool calls
under the client's own names before a client codec encodes. Codecs never rename.
"""

from __future__ import annotations

import hashlib
import re

import msgspec

from plexus import ir

_SAFE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")
_UNSAFE_CHARACTER = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_LENGTH = 64


def safe_tool_name(name: str) -> str:
    """Return `name` if every provider accepts it, else a valid name derived from it."""
    if _SAFE.match(name):
        return name
    cleaned = _UNSAFE_CHARACTER.sub("_", name)
    if not cleaned or not (cleaned[0].isalpha() or cleaned[0] == "_"):
        cleaned = "_" + cleaned
    if len(cleaned) > _MAX_LENGTH:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[: _MAX_LENGTH - 9]}_{digest}"
    return cleaned


def with_safe_tool_names(request: ir.Request) -> ir.Request:
    """Return `request` with safe names in its tools, tool choice and history (the same object
    when every name is already safe, as nearly always)."""
    names = {tool.name for tool in request.tools}
    if request.tool_choice is not None and request.tool_choice.name:
        names.add(request.tool_choice.name)
    for message in request.messages:
        for block in message.content:
            # `type() is`: long histories are mostly other blocks, and a Struct isinstance that
            # misses is costly.
            if (
                type(block) is ir.ToolCallBlock or type(block) is ir.ToolResultBlock
            ) and block.name:
                names.add(block.name)
    renamed = {name: safe_tool_name(name) for name in names if not _SAFE.match(name)}
    if not renamed:
        return request
    return msgspec.structs.replace(
        request,
        tools=[_rename_tool(tool, renamed) for tool in request.tools],
        tool_choice=_rename_choice(request.tool_choice, renamed),
        messages=[
            ir.Message(message.role, [_rename_block(block, renamed) for block in message.content])
            for message in request.messages
        ],
    )


def client_tool_names(request: ir.Request) -> dict[str, str]:
    """Map each renamed tool's safe name back to the name the client declared (empty when no
    tool was renamed)."""
    return {
        safe_tool_name(tool.name): tool.name for tool in request.tools if not _SAFE.match(tool.name)
    }


def restore_block(block: ir.Block, names: dict[str, str]) -> ir.Block:
    """Return a tool-call block under the client's name; any other block unchanged."""
    if isinstance(block, ir.ToolCallBlock) and block.name in names:
        return msgspec.structs.replace(block, name=names[block.name])
    return block


def restore_response(response: ir.Response, names: dict[str, str]) -> ir.Response:
    """Return `response` with its tool calls under the client's names (`client_tool_names`)."""
    if not names:
        return response
    content = [restore_block(block, names) for block in response.content]
    return msgspec.structs.replace(response, content=content)


def restore_event(event: ir.StreamEvent, names: dict[str, str]) -> ir.StreamEvent:
    """Return a stream event with an opening tool call under the client's name."""
    if names and type(event) is ir.BlockStart:
        block = restore_block(event.block, names)
        if block is not event.block:
            return ir.BlockStart(event.index, block)
    return event


def _rename_tool(tool: ir.Tool, renamed: dict[str, str]) -> ir.Tool:
    if tool.name not in renamed:
        return tool
    return msgspec.structs.replace(tool, name=renamed[tool.name])


def _rename_choice(choice: ir.ToolChoice | None, renamed: dict[str, str]) -> ir.ToolChoice | None:
    if choice is None or choice.name not in renamed:
        return choice
    return msgspec.structs.replace(choice, name=renamed[choice.name])


def _rename_block(block: ir.Block, renamed: dict[str, str]) -> ir.Block:
    if isinstance(block, ir.ToolCallBlock | ir.ToolResultBlock) and block.name in renamed:
        return msgspec.structs.replace(block, name=renamed[block.name])
    return block
