"""Anthropic server tool blocks ↔ IR (protocols.md 2.4, 2.5, 2.10).

`server_tool_use` becomes a ServerToolCallBlock and each `*_tool_result` block a
ServerToolResultBlock, both keeping the block as Anthropic wrote it, so an Anthropic provider
gets them back exactly. Blocks other families ran reach a Messages client as Anthropic's own
shapes where they have one (web search, Python code execution), else as text.
"""

from __future__ import annotations

from typing import Any

import msgspec

from plexus import ir
from plexus.protocols import server_tools
from plexus.protocols.common import dump_json
from plexus.protocols.messages import wire

SERVER_TOOL_USE = "server_tool_use"
_RESULT_SUFFIX = "_tool_result"
_RESULT_TYPES = frozenset(
    {
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
    }
)
_FAMILY: ir.Origin = "anthropic"

Json = dict[str, Any]


def is_server_block(kind: str) -> bool:
    """Whether a block type is a server tool call or result."""
    return kind == SERVER_TOOL_USE or kind in _RESULT_TYPES


def decode_block(block: wire.Block, raw: bytes, *, from_client: bool) -> ir.Block:
    """A `server_tool_use` or `*_tool_result` block (its JSON is `raw`) as an IR block; ids a
    client sends may say the gateway made the block from another family's tool."""
    if block.type == SERVER_TOOL_USE:
        block_id, origin, own = _arrived(block.id or "", from_client)
        return ir.ServerToolCallBlock(
            id=block_id,
            name=block.name or "",
            input=bytes(block.input).decode() if block.input else "",
            origin=origin,
            payload=msgspec.Raw(raw) if own else msgspec.Raw(),
        )
    call_id, origin, own = _arrived(block.tool_use_id or "", from_client)
    name = block.type.removesuffix(_RESULT_SUFFIX)
    content = msgspec.json.decode(block.content) if block.content else None
    text, sources, is_error = _read_content(content)
    return ir.ServerToolResultBlock(
        call_id=call_id,
        name=name,
        text=text,
        sources=sources,
        is_error=is_error,
        origin=origin,
        payload=msgspec.Raw(raw) if own else msgspec.Raw(),
    )


def completed_call(shell: bytes, arguments: str) -> ir.ServerToolCallBlock:
    """A streamed `server_tool_use`: its `content_block_start` shell with the input its
    `input_json_delta`s carried."""
    data: Json = msgspec.json.decode(shell)
    data["input"] = msgspec.json.decode(arguments) if arguments.strip() else {}
    return ir.ServerToolCallBlock(
        id=str(data.get("id", "")),
        name=str(data.get("name", "")),
        input=dump_json(data["input"]),
        origin=_FAMILY,
        payload=msgspec.Raw(msgspec.json.encode(data)),
    )


def _arrived(value: str, from_client: bool) -> tuple[str, ir.Origin, bool]:
    if not from_client:
        return value, _FAMILY, True
    return server_tools.sent_id(value, _FAMILY)


def _read_content(content: Any) -> tuple[str, list[ir.ServerToolSource], bool]:
    """The text, sources and error flag of a result block's `content`."""
    if isinstance(content, list):  # web search results
        sources = [_source(item) for item in content if isinstance(item, dict) and "url" in item]
        return "", sources, False
    if not isinstance(content, dict):
        return "", [], False
    kind = str(content.get("type", ""))
    if kind.endswith("_error"):
        return str(content.get("error_code", "error")), [], True
    match kind:
        case "code_execution_result" | "bash_code_execution_result":
            return _output(content), [], content.get("return_code", 0) != 0
        case "encrypted_code_execution_result":
            stderr = str(content.get("stderr") or "")
            return stderr or "(output encrypted)", [], content.get("return_code", 0) != 0
        case "web_fetch_result":
            return _fetched_text(content), [_source(content)], False
        case "text_editor_code_execution_view_result":
            return str(content.get("content", "")), [], False
        case "text_editor_code_execution_str_replace_result":
            return "\n".join(str(line) for line in content.get("lines") or []), [], False
        case "text_editor_code_execution_create_result":
            return ("file updated" if content.get("is_file_update") else "file created"), [], False
        case "tool_search_tool_search_result":
            found = content.get("tool_references") or []
            names = [str(item.get("tool_name", "")) for item in found if isinstance(item, dict)]
            return ", ".join(names), [], False
        case _:
            return dump_json(content), [], False


def _source(item: Json) -> ir.ServerToolSource:
    title = item.get("title")
    return ir.ServerToolSource(str(item["url"]), title if isinstance(title, str) else None)


def _output(result: Json) -> str:
    parts = [str(result.get(key) or "") for key in ("stdout", "stderr")]
    code = result.get("return_code", 0)
    if code:
        parts.append(f"(exit code {code})")
    return "\n".join(part for part in parts if part)


def _fetched_text(result: Json) -> str:
    document = result.get("content")
    source = document.get("source") if isinstance(document, dict) else None
    if isinstance(source, dict) and source.get("type") == "text":
        return str(source.get("data", ""))
    return ""


# --- encode ----------------------------------------------------------------------------------


def encode_for_provider(block: ir.ServerToolCallBlock | ir.ServerToolResultBlock) -> Json:
    """The block for an Anthropic upstream: Anthropic's own JSON, else text (protocols.md 6.5:
    another family's results cannot be replayed)."""
    if server_tools.native(block, _FAMILY):
        native: Json = msgspec.json.decode(block.payload)
        return native
    return {"type": "text", "text": server_tools.text_of(block) or ""}


def encode_for_client(block: ir.ServerToolCallBlock | ir.ServerToolResultBlock) -> Json:
    """The block for a Messages client: Anthropic's own JSON, else Anthropic's shape of a web
    search or Python code execution under a tagged id, else text."""
    if server_tools.native(block, _FAMILY):
        native: Json = msgspec.json.decode(block.payload)
        return native
    match block:
        case ir.ServerToolCallBlock(name=server_tools.WEB_SEARCH | server_tools.CODE_EXECUTION):
            return {
                "type": SERVER_TOOL_USE,
                "id": _shown(block.id, block.origin),
                "name": block.name,
                "input": server_tools.call_input(block),
            }
        case ir.ServerToolResultBlock(name=server_tools.WEB_SEARCH):
            return _result(block, _web_search_content(block))
        case ir.ServerToolResultBlock(name=server_tools.CODE_EXECUTION):
            return _result(block, _code_content(block))
        case _:
            return {"type": "text", "text": server_tools.text_of(block) or ""}


def _shown(block_id: str, origin: ir.Origin | None) -> str:
    # A shape the gateway made: the tag says so when the client sends it back.
    return server_tools.client_id(block_id, origin or "openai-compatible", own=False)


def _result(block: ir.ServerToolResultBlock, content: Any) -> Json:
    return {
        "type": f"{block.name}{_RESULT_SUFFIX}",
        "tool_use_id": _shown(block.call_id, block.origin),
        "content": content,
    }


def _web_search_content(block: ir.ServerToolResultBlock) -> Any:
    if block.is_error:
        return {"type": "web_search_tool_result_error", "error_code": "unavailable"}
    # `encrypted_content` is required, and only Anthropic can mint one: empty marks a copy.
    return [
        {
            "type": "web_search_result",
            "url": source.url,
            "title": source.title or source.url,
            "encrypted_content": "",
            "page_age": None,
        }
        for source in block.sources
    ]


def _code_content(block: ir.ServerToolResultBlock) -> Json:
    return {
        "type": "code_execution_result",
        "stdout": "" if block.is_error else block.text,
        "stderr": block.text if block.is_error else "",
        "return_code": 1 if block.is_error else 0,
        "content": [],
    }
