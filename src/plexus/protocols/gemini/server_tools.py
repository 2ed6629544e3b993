"""Gemini's own tools ↔ IR server tool blocks (protocols.md 4.3-4.5).

`executableCode` and `codeExecutionResult` parts (and the `toolCall` / `toolResponse` parts of
server-side tool invocations) become call and result blocks keeping the part, which goes back to
a Gemini upstream as it came. A Google Search grounding (`groundingMetadata`) is answer
metadata, never history: it becomes a web search call and result without JSON, which Gemini
never gets back. Toward a Gemini client, other families' Python runs become these parts under
an id tagged with their origin, web searches its grounding metadata, anything else text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import msgspec

from plexus import ir
from plexus.protocols import server_tools
from plexus.protocols.common import dump_json
from plexus.protocols.gemini import wire

_FAMILY: ir.Origin = "gemini"
_TOOL_TYPES = {
    "GOOGLE_SEARCH_WEB": server_tools.WEB_SEARCH,
    "GOOGLE_SEARCH_IMAGE": "image_search",
    "URL_CONTEXT": "url_context",
    "GOOGLE_MAPS": "google_maps",
    "FILE_SEARCH": "file_search",
}


def is_server_part(part: wire.Part) -> bool:
    """Whether a part is a tool Google ran (or the code it ran)."""
    return (
        part.executableCode is not None
        or part.codeExecutionResult is not None
        or part.toolCall is not None
        or part.toolResponse is not None
    )


def decode_part(part: wire.Part, part_id: str, *, from_client: bool) -> ir.Block:
    """A server tool part as a block; `part_id` is its id or its call's (minted when absent)."""
    block_id, origin, own = (
        server_tools.sent_id(part_id, _FAMILY) if from_client else (part_id, _FAMILY, True)
    )
    data = wire.Part(
        executableCode=part.executableCode,
        codeExecutionResult=part.codeExecutionResult,
        toolCall=part.toolCall,
        toolResponse=part.toolResponse,
    )
    payload = msgspec.Raw(wire.encoder.encode(data)) if own else msgspec.Raw()
    if part.executableCode is not None:
        code = dump_json({"code": part.executableCode.code})
        return ir.ServerToolCallBlock(block_id, server_tools.CODE_EXECUTION, code, origin, payload)
    if part.codeExecutionResult is not None:
        result = part.codeExecutionResult
        failed = result.outcome not in (None, "OUTCOME_OK")
        return ir.ServerToolResultBlock(
            block_id, server_tools.CODE_EXECUTION, result.output or "", [], failed, origin, payload
        )
    if part.toolCall is not None:
        name = _kind(part.toolCall.toolType)
        arguments = dump_json(part.toolCall.args or {})
        return ir.ServerToolCallBlock(block_id, name, arguments, origin, payload)
    response = (part.toolResponse or wire.ToolResponse()).response or {}
    name = _kind((part.toolResponse or wire.ToolResponse()).toolType)
    output = response.get("output", response)
    text = output if isinstance(output, str) else dump_json(output)
    failed = "error" in response
    return ir.ServerToolResultBlock(block_id, name, text, [], failed, origin, payload)


def _kind(tool_type: str | None) -> str:
    return _TOOL_TYPES.get(tool_type or "", (tool_type or "server_tool").lower())


def grounding_blocks(metadata: wire.GroundingMetadata | None) -> list[ir.Block]:
    """A Google Search grounding as a web search call and its result."""
    if metadata is None or not (metadata.webSearchQueries or metadata.groundingChunks):
        return []
    query = "; ".join(metadata.webSearchQueries or [])
    block_id = "search_" + hashlib.sha256(query.encode()).hexdigest()[:16]
    sources = [
        ir.ServerToolSource(chunk.web.uri, chunk.web.title)
        for chunk in metadata.groundingChunks or []
        if chunk.web is not None and chunk.web.uri
    ]
    name = server_tools.WEB_SEARCH
    call = ir.ServerToolCallBlock(block_id, name, dump_json({"query": query}), _FAMILY)
    return [call, ir.ServerToolResultBlock(block_id, name, sources=sources, origin=_FAMILY)]


# --- encode ----------------------------------------------------------------------------------


def upstream_part(block: ir.ServerToolCallBlock | ir.ServerToolResultBlock) -> wire.Part | None:
    """The part for a Gemini upstream: Gemini's own as it came; its grounding never (Gemini
    never had it in history); anything else as text."""
    if server_tools.native(block, _FAMILY):
        return msgspec.json.decode(block.payload, type=wire.Part)
    if block.origin == _FAMILY and block.name == server_tools.WEB_SEARCH:
        return None
    return wire.Part(text=server_tools.text_of(block))


def client_part(block: ir.ServerToolCallBlock | ir.ServerToolResultBlock) -> wire.Part | None:
    """The part for a Gemini client: Gemini's own as it came, Python code execution as
    Gemini's parts under a tagged id, nothing for a web search (`grounding_of` carries it),
    anything else as text."""
    if server_tools.native(block, _FAMILY):
        return msgspec.json.decode(block.payload, type=wire.Part)
    if block.name == server_tools.WEB_SEARCH:
        return None
    if block.name != server_tools.CODE_EXECUTION:
        # Clients join text parts: the tool's text keeps to lines of its own.
        return wire.Part(text=server_tools.separated(server_tools.text_of(block) or ""))
    if isinstance(block, ir.ServerToolCallBlock):
        tagged = server_tools.client_id(block.id, block.origin or _FAMILY, own=False)
        code = str(server_tools.call_input(block).get("code", ""))
        return wire.Part(executableCode=wire.ExecutableCode(code, "PYTHON", tagged))
    tagged = server_tools.client_id(block.call_id, block.origin or _FAMILY, own=False)
    outcome = "OUTCOME_FAILED" if block.is_error else "OUTCOME_OK"
    return wire.Part(codeExecutionResult=wire.CodeExecutionResult(outcome, block.text, tagged))


def grounding_of(blocks: Iterable[ir.Block]) -> wire.GroundingMetadata | None:
    """The grounding metadata a Gemini client gets for the web searches among `blocks`."""
    queries: list[str] = []
    chunks: list[wire.GroundingChunk] = []
    for block in blocks:
        if not isinstance(block, ir.ServerToolCallBlock | ir.ServerToolResultBlock):
            continue
        if server_tools.native(block, _FAMILY):
            continue  # a `toolCall` part of Gemini's own
        match block:
            case ir.ServerToolCallBlock(name=server_tools.WEB_SEARCH):
                query = server_tools.call_input(block).get("query")
                if isinstance(query, str) and query and query not in queries:
                    queries.append(query)
            case ir.ServerToolResultBlock(name=server_tools.WEB_SEARCH):
                seen = {chunk.web.uri for chunk in chunks if chunk.web is not None}
                chunks += [
                    wire.GroundingChunk(web=wire.GroundingWeb(source.url, source.title))
                    for source in block.sources
                    if source.url not in seen
                ]
    if not queries and not chunks:
        return None
    return wire.GroundingMetadata(webSearchQueries=queries or None, groundingChunks=chunks or None)
