"""Messages request bodies: decode a client's body to IR, encode IR for an Anthropic upstream."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import common
from plexus.protocols.messages import server_tools, wire

_DATED_TOOL = re.compile(r"^(.*)_\d{8}$")
_EFFORTS: dict[str, ir.Effort] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}


# --- decode: client body -> IR ----------------------------------------------------------------


def decode_request(body: bytes) -> ir.Request:
    """Decode a Messages request body into the IR; raises BadRequest naming the bad path."""
    try:
        wire_request = wire.REQUEST_DECODER.decode(body)
    except msgspec.DecodeError as error:
        raise BadRequest(str(error)) from error
    if wire_request.thread is not None:
        raise _thread_refused(wire_request.thread)
    system = _decode_system(wire_request.system)
    messages: list[ir.Message] = []
    for position, message in enumerate(wire_request.messages):
        path = f"$.messages[{position}]"
        content = _decode_content(message.content, path)
        if message.role == "system":
            if messages:
                messages.append(ir.Message(role="system", content=content))
            else:
                system.extend(block for block in content if isinstance(block, ir.TextBlock))
        elif message.role in ("user", "assistant"):
            role: ir.Role = "user" if message.role == "user" else "assistant"
            messages.append(ir.Message(role=role, content=content))
        else:
            raise BadRequest(f"unexpected role {message.role!r} - at `{path}.role`")
    tool_choice, parallel = _decode_tool_choice(wire_request.tool_choice)
    return ir.Request(
        model=wire_request.model,
        messages=messages,
        system=system,
        tools=[_decode_tool(tool) for tool in wire_request.tools or []],
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        max_tokens=wire_request.max_tokens,
        temperature=wire_request.temperature,
        top_p=wire_request.top_p,
        top_k=wire_request.top_k,
        stop=list(wire_request.stop_sequences or []),
        reasoning=_decode_reasoning(wire_request.thinking, wire_request.output_config),
        response_format=_decode_format(wire_request.output_config, wire_request.output_format),
        stream=bool(wire_request.stream),
        user=wire_request.metadata.user_id if wire_request.metadata else None,
    )


def _cache(control: wire.CacheControl | None) -> ir.CacheHint | None:
    return ir.CacheHint(ttl=control.ttl) if control is not None else None


def _decode_system(system: str | list[wire.Block] | None) -> list[ir.TextBlock]:
    if system is None:
        return []
    if isinstance(system, str):
        return [ir.TextBlock(text=system)] if system else []
    return [
        ir.TextBlock(text=block.text or "", cache=_cache(block.cache_control))
        for block in system
        if block.type == "text" and block.text
    ]


def _decode_content(content: str | list[msgspec.Raw], path: str) -> list[ir.Block]:
    if isinstance(content, str):
        return [ir.TextBlock(text=content)] if content else []
    blocks: list[ir.Block] = []
    for position, raw in enumerate(content):
        where = f"{path}.content[{position}]"
        try:
            block = wire.BLOCK_DECODER.decode(raw)
        except msgspec.DecodeError as error:
            raise BadRequest(f"{error} (within `{where}`)") from error
        decoded = _decode_block(block, bytes(raw), where)
        if decoded is not None:
            blocks.append(decoded)
    return blocks


def _decode_block(block: wire.Block, raw: bytes, path: str) -> ir.Block | None:
    if server_tools.is_server_block(block.type):
        return server_tools.decode_block(block, raw, from_client=True)
    match block.type:
        case "text":
            return ir.TextBlock(text=block.text or "", cache=_cache(block.cache_control))
        case "image":
            return _decode_image(block)
        case "document":
            return _decode_document(block, path)
        case "tool_use":
            arguments = bytes(block.input).decode() if block.input else ""
            return ir.ToolCallBlock(id=block.id or "", name=block.name or "", arguments=arguments)
        case "tool_result":
            return _decode_tool_result(block, path)
        case "thinking":
            origin, token = common.untag_token(block.signature or "")
            return ir.ThinkingBlock(
                text=block.thinking or "", signature=token or None, origin=origin or "anthropic"
            )
        case "redacted_thinking":
            origin, token = common.untag_token(block.data or "")
            return ir.ThinkingBlock(redacted=token, origin=origin or "anthropic")
        case _:
            return None  # search results, container uploads, future types: no IR form


def _decode_image(block: wire.Block) -> ir.ImageBlock | None:
    source = block.source
    if source is None:
        return None
    cache = _cache(block.cache_control)
    if source.type == "url":
        return ir.ImageBlock(url=source.url, cache=cache)
    if source.type != "base64":
        return None
    return ir.ImageBlock(data=source.data, media_type=source.media_type, cache=cache)


def _decode_document(block: wire.Block, path: str) -> ir.DocumentBlock | None:
    source = block.source
    if source is None:
        return None
    cache = _cache(block.cache_control)
    match source.type:
        case "url":
            return ir.DocumentBlock(url=source.url, title=block.title, cache=cache)
        case "text":
            media_type = source.media_type or "text/plain"
            return ir.DocumentBlock(
                text=source.data or "", media_type=media_type, title=block.title, cache=cache
            )
        case "content":
            inner = _decode_raw_blocks(source.content, f"{path}.source.content")
            text = "\n".join(item.text for item in inner if isinstance(item, ir.TextBlock))
            return ir.DocumentBlock(text=text, media_type="text/plain", title=block.title)
        case "base64":
            return ir.DocumentBlock(
                data=source.data, media_type=source.media_type, title=block.title, cache=cache
            )
        case _:
            return None  # Files-API ids do not cross providers (protocols.md 6.4)


def _decode_raw_blocks(raw: msgspec.Raw, path: str) -> list[ir.Block]:
    if not raw:
        return []
    try:
        content = wire.BLOCKS_DECODER.decode(raw)
    except msgspec.DecodeError as error:
        raise BadRequest(f"{error} (within `{path}`)") from error
    return _decode_content(content, path)


def _decode_tool_result(block: wire.Block, path: str) -> ir.ToolResultBlock:
    content: list[ir.ToolResultContent] = [
        item
        for item in _decode_raw_blocks(block.content, f"{path}.content")
        if isinstance(item, ir.TextBlock | ir.ImageBlock | ir.DocumentBlock)
    ]
    return ir.ToolResultBlock(
        call_id=block.tool_use_id or "",
        content=content,
        is_error=bool(block.is_error),
        cache=_cache(block.cache_control),
    )


def _decode_tool(tool: wire.InputTool) -> ir.Tool:
    cache = _cache(tool.cache_control)
    if tool.type is None or tool.type == "custom":
        return ir.Tool(
            name=tool.name,
            description=tool.description,
            parameters=tool.input_schema,
            strict=tool.strict,
            cache=cache,
        )
    dated = _DATED_TOOL.match(tool.type)
    if dated is not None and dated.group(1) == "web_search":
        return ir.Tool(name=tool.name, kind="web_search", cache=cache)
    # Other Anthropic-defined tools keep their versioned type, so they round-trip to Anthropic.
    return ir.Tool(name=tool.name, kind=tool.type, cache=cache)


def _decode_tool_choice(
    choice: wire.InputToolChoice | None,
) -> tuple[ir.ToolChoice | None, bool | None]:
    if choice is None:
        return None, None
    parallel = False if choice.disable_parallel_tool_use else None
    match choice.type:
        case "any":
            return ir.ToolChoice(mode="required"), parallel
        case "tool":
            return ir.ToolChoice(mode="tool", name=choice.name), parallel
        case "none":
            return ir.ToolChoice(mode="none"), parallel
        case _:
            return ir.ToolChoice(mode="auto"), parallel


def _decode_reasoning(
    thinking: wire.Thinking | None, output_config: wire.OutputConfig | None
) -> ir.Reasoning | None:
    effort = _EFFORTS.get(output_config.effort or "") if output_config else None
    if thinking is None:
        return ir.Reasoning(effort=effort) if effort is not None else None
    summary = "auto" if thinking.display == "summarized" else None
    match thinking.type:
        case "disabled":
            return ir.Reasoning(effort="none", enabled=False)
        case "enabled":
            budget = thinking.budget_tokens
            if effort is None and budget is not None:
                effort = common.effort_for_budget(budget)
            return ir.Reasoning(effort=effort, budget_tokens=budget, summary=summary)
        case _:
            # Adaptive without an effort means the Anthropic default, high (protocols.md 6.10).
            return ir.Reasoning(effort=effort or "high", summary=summary)


def _decode_format(
    output_config: wire.OutputConfig | None, output_format: wire.OutputFormat | None
) -> ir.ResponseFormat | None:
    """`output_config.format`, or the deprecated top-level `output_format` older SDKs send
    (issue 11: it was dropped, and the client got prose with a 200)."""
    configured = output_config.format if output_config is not None else None
    if configured is not None and output_format is not None:
        raise BadRequest(
            "output_format and output_config.format both given; send only output_config.format",
            param="output_format",
        )
    chosen = configured or output_format
    if chosen is None or chosen.type != "json_schema":
        return None
    return ir.ResponseFormat(type="json_schema", schema=chosen.schema)


def _thread_refused(thread: wire.Thread) -> BadRequest:
    """A request that asks for a server-held thread, translated: no other provider holds one,
    so it is refused the way the API refuses what threads cannot serve, with the `error_code`
    on which the SDK's thread helpers send the whole conversation without `thread` (issue 11:
    it was accepted and forgotten, and the next turn reached the provider alone)."""
    if thread.type == "continue":
        status, error_type, code = 404, "not_found_error", "thread_not_found"
        message = f"thread of message {thread.previous_message_id!r} not found: this provider "
    else:
        status, error_type, code = 400, "invalid_request_error", "thread_unsupported_request"
        message = "threads are not supported by this provider: "
    message += "send the whole conversation without `thread`"
    details: dict[str, Any] = {"error_code": code}
    if code == "thread_unsupported_request":
        details["unsupported"] = []
    body = {"type": "error", "error": {"type": error_type, "message": message, "details": details}}
    refusal = BadRequest(message, status=status, kind="not_found" if status == 404 else None)
    refusal.relay = ("messages", status, msgspec.json.encode(body))
    return refusal


class _OutputLimit(msgspec.Struct):
    max_tokens: int | None = None


_output_limit = msgspec.json.Decoder(_OutputLimit)


def max_output_tokens_of(body: bytes) -> int | None:
    """The most output tokens a request body allows, if it says."""
    try:
        return _output_limit.decode(body).max_tokens
    except msgspec.DecodeError:
        return None
