"""Responses `Response` object ↔ IR response, stop reasons, usage, errors (protocols.md 3.5-3.8)."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from plexus import ir
from plexus.errors import UpstreamError
from plexus.protocols import common
from plexus.protocols.responses import hosted, wire
from plexus.protocols.responses.reasoning import (
    REDACTED_PREFIX,
    thinking_from_reasoning,
    unpack_token,
)
from plexus.protocols.responses.request_encoder import encode_tool_spec


def map_stop_reason(raw: str | None) -> ir.StopReason:
    """Map a Responses status or `incomplete_details.reason` to the IR's closed set."""
    match raw:
        case None | "completed":
            return "end"
        case "max_output_tokens":
            return "length"
        case "content_filter":
            return "content_filter"
        case "pause_turn":  # the reason this gateway gives a paused turn (status_of)
            return "pause"
        case "failed":
            return "error"
        case _:
            return "other"


def stop_reason_of(
    body: wire.ResponseBody, has_tool_calls: bool
) -> tuple[ir.StopReason, str | None]:
    """Return the IR stop reason and the raw value a terminal Response carries."""
    raw = body.status
    if body.status == "incomplete" and body.incomplete_details is not None:
        raw = body.incomplete_details.reason or raw
    reason = map_stop_reason(raw)
    if reason == "end" and has_tool_calls:
        reason = "tool_use"
    return reason, raw


def decode_usage(usage: wire.UsageBody) -> ir.Usage:
    """Convert Responses usage (input includes cache) into disjoint IR buckets."""
    details = usage.input_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    written = (details.cache_write_tokens or 0) if details else 0
    reasoning = (
        usage.output_tokens_details.reasoning_tokens if usage.output_tokens_details else None
    )
    return ir.Usage(
        input_tokens=max(0, usage.input_tokens - cached - written),
        output_tokens=usage.output_tokens,
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=reasoning,
    )


def decode_item(item: wire.OutputItem) -> list[ir.Block]:
    """Convert one output item into IR blocks (hosted tool items: hosted.decode_item)."""
    match item.type:
        case "message":
            blocks: list[ir.Block] = []
            for part in item.content or []:
                if part.type == "output_text" and part.text:
                    blocks.append(ir.TextBlock(part.text))
                elif part.type == "refusal":
                    blocks.append(ir.RefusalBlock(part.refusal or ""))
            return blocks
        case "function_call":
            name = item.name or ""
            return [ir.ToolCallBlock(item.call_id or item.id or "", name, item.arguments or "")]
        case "custom_tool_call":
            arguments = common.dump_json({"input": item.input or ""})
            return [ir.ToolCallBlock(item.call_id or item.id or "", item.name or "", arguments)]
        case "reasoning":
            text = "\n\n".join(part.text for part in item.summary or [] if part.text)
            if not text:
                text = "\n\n".join(part.text or "" for part in item.content or [] if part.text)
            block = thinking_from_reasoning(item.id, text, item.encrypted_content)
            return [block]
        case _:
            return []


def decode_response(body: bytes) -> ir.Response:
    """Decode an upstream Responses body into the IR."""
    try:
        raw = wire.response_decoder.decode(body)
    except msgspec.DecodeError as error:
        raise UpstreamError(f"malformed upstream response: {error}", status=502) from error
    if raw.status == "failed":
        message = raw.error.message if raw.error else "upstream response failed"
        raise UpstreamError(message, status=502)
    content = _decode_output(raw.output or [], body)
    has_calls = any(isinstance(block, ir.ToolCallBlock) for block in content)
    reason, raw_reason = stop_reason_of(raw, has_calls)
    return ir.Response(
        id=raw.id,
        model=raw.model,
        content=content,
        stop_reason=reason,
        raw_stop_reason=raw_reason,
        usage=decode_usage(raw.usage) if raw.usage else ir.Usage(),
        created=int(raw.created_at or 0),
    )


def _decode_output(output: list[wire.OutputItem], body: bytes) -> list[ir.Block]:
    if not any(hosted.is_hosted(item.type) for item in output):
        return [block for item in output for block in decode_item(item)]
    raws = hosted.raw_items(body, "output")  # hosted tool items are kept as they came
    blocks: list[ir.Block] = []
    for item, raw in zip(output, raws, strict=True):
        hosted_item = hosted.is_hosted(item.type)
        blocks += hosted.decode_item(raw, from_client=False) if hosted_item else decode_item(item)
    return blocks


# --- encode (Responses is the client's API) --------------------------------------------------


def encode_usage(usage: ir.Usage) -> dict[str, Any]:
    """Build a Responses usage object with every detail field present (protocols.md 3.6)."""
    total_input = usage.total_input_tokens
    return {
        "input_tokens": total_input,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": total_input + usage.output_tokens,
    }


def status_of(reason: ir.StopReason) -> tuple[str, dict[str, Any] | None]:
    """Return the Responses status and incomplete_details for an IR stop reason."""
    match reason:
        case "length" | "context_exceeded":
            return "incomplete", {"reason": "max_output_tokens"}
        case "content_filter" | "refusal":
            return "incomplete", {"reason": "content_filter"}
        case "pause":
            # A server tool's turn paused (Anthropic `pause_turn`): not done, send it back to go
            # on. Not one of OpenAI's reasons, so the raw value tells what happened.
            return "incomplete", {"reason": "pause_turn"}
        case "error":
            return "failed", None
        case _:
            return "completed", None


def reasoning_item(
    block: ir.ThinkingBlock, item_id: str, status: str = "completed"
) -> dict[str, Any]:
    """Build a reasoning item; foreign tokens are tagged with their origin (protocols.md 6.9)."""
    summary = [{"type": "summary_text", "text": block.text}] if block.text else []
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": summary}
    if block.redacted is not None:
        item["encrypted_content"] = common.tag_token("anthropic", REDACTED_PREFIX + block.redacted)
    elif block.signature is not None and block.origin == "openai":
        item["encrypted_content"] = unpack_token(block.signature, None)[1]
    elif block.signature is not None and block.origin is not None:
        item["encrypted_content"] = common.tag_token(block.origin, block.signature)
    item["status"] = status
    return item


def reasoning_item_id(block: ir.ThinkingBlock) -> str:
    """Keep an OpenAI reasoning item id, else mint one."""
    if block.origin == "openai":
        item_id = (
            unpack_token(block.signature, block.item_id)[0] if block.signature else block.item_id
        )
        if item_id and item_id.startswith("rs_"):
            return item_id
    return common.mint_id("rs_")


def call_item(
    block: ir.ToolCallBlock, item_id: str, tools: list[ir.Tool], status: str
) -> dict[str, Any]:
    """Build a function_call (or custom_tool_call) item, restoring a namespaced name."""
    tool = next((tool for tool in tools if tool.name == block.name), None)
    if tool is not None and tool.freeform:
        raw_input = (
            common.parse_arguments(block.arguments).get("input", "")
            if status == "completed"
            else ""
        )
        return {
            "id": item_id,
            "type": "custom_tool_call",
            "call_id": block.id,
            "name": block.name,
            "input": raw_input if isinstance(raw_input, str) else common.dump_json(raw_input),
            "status": status,
        }
    item: dict[str, Any] = {
        "id": item_id,
        "type": "function_call",
        "call_id": block.id,
        "name": block.name,
        "arguments": block.arguments,
        "status": status,
    }
    if tool is not None and tool.namespace:
        item["namespace"] = tool.namespace
        item["name"] = block.name.removeprefix(tool.namespace).removeprefix("__")
    return item


def text_part(block: ir.TextBlock | ir.RefusalBlock) -> dict[str, Any]:
    """Build an output_text or refusal content part."""
    if isinstance(block, ir.RefusalBlock):
        return {"type": "refusal", "refusal": block.text}
    return {"type": "output_text", "text": block.text, "annotations": [], "logprobs": []}


def message_item(item_id: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    """Build an assistant message item."""
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": parts,
    }


def envelope(request: ir.Request, response_id: str, model: str, created_at: int) -> dict[str, Any]:
    """Build the Response object fields every event and body share, echoing the request."""
    reasoning: dict[str, Any] | None = None
    if request.reasoning is not None:
        reasoning = {"effort": request.reasoning.effort, "summary": request.reasoning.summary}
    fmt: dict[str, Any] = {"type": "text"}
    if request.response_format is not None:
        fmt = {"type": request.response_format.type}
        if request.response_format.type == "json_schema":
            fmt["name"] = request.response_format.name or "response"
            fmt["schema"] = request.response_format.schema or {}
            fmt["strict"] = request.response_format.strict
    choice: str | dict[str, Any] = "auto"
    if request.tool_choice is not None:
        choice = request.tool_choice.mode
        if request.tool_choice.mode == "tool":
            choice = {"type": "function", "name": request.tool_choice.name}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": "\n\n".join(block.text for block in request.system) or None,
        "max_output_tokens": request.max_tokens,
        "model": model,
        "output": [],
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "previous_response_id": request.continues,
        "reasoning": reasoning,
        "store": request.kept,
        "temperature": request.temperature,
        "text": {"format": fmt},
        "tool_choice": choice,
        "tools": [encode_tool_spec(tool) for tool in request.tools],
        "top_p": request.top_p,
        "truncation": "disabled",
        "usage": None,
        "user": request.user,
        "metadata": {},
    }


def finish_envelope(
    body: dict[str, Any], reason: ir.StopReason, raw_reason: str | None, usage: ir.Usage | None
) -> None:
    """Set the terminal status, incomplete details and usage of a Response object."""
    status, incomplete = status_of(reason)
    body["status"] = status
    body["incomplete_details"] = incomplete
    body["usage"] = encode_usage(usage or ir.Usage())
    if status == "failed":
        body["error"] = {"code": "server_error", "message": raw_reason or "upstream error"}
    if reason == "other":
        # Responses has no free-form stop field: keep the raw value visible in metadata.
        body["metadata"] = {"stop_reason": raw_reason or "other"}


def encode_response(response: ir.Response, request: ir.Request) -> bytes:
    """Encode an IR response as the client's Response object."""
    body = envelope(
        request,
        _response_id(response.id, request.kept),
        response.model,
        response.created or int(time.time()),
    )
    output: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    hosted_items = hosted.ClientItems()
    for block in map(hosted.as_text, response.content):
        if isinstance(block, ir.TextBlock | ir.RefusalBlock):
            parts.append(text_part(block))
            continue
        if parts:
            output.append(message_item(common.mint_id("msg_"), parts, "completed"))
            parts = []
        if isinstance(block, ir.ThinkingBlock):
            output.append(reasoning_item(block, reasoning_item_id(block)))
        elif isinstance(block, ir.ToolCallBlock):
            output.append(call_item(block, common.mint_id("fc_"), request.tools, "completed"))
        elif isinstance(block, ir.ServerToolCallBlock):
            output.append(hosted_items.call(block))
        elif isinstance(block, ir.ServerToolResultBlock):
            hosted_items.result(block)  # completes its call's item, in place
    hosted_items.pending()
    if parts:
        output.append(message_item(common.mint_id("msg_"), parts, "completed"))
    body["output"] = output
    body["completed_at"] = body["created_at"]
    finish_envelope(body, response.stop_reason, response.raw_stop_reason, response.usage)
    return wire.encoder.encode(body)


def _response_id(upstream_id: str, kept: bool) -> str:
    """The upstream's own `resp_` id, unless the gateway keeps the answer: the ids it keeps
    are all its own (`stored.issued_here`), so another id is never looked for in its store."""
    if upstream_id.startswith("resp_") and not kept:
        return upstream_id
    return common.mint_id("resp_")


_ERROR_TYPES: dict[str, tuple[str, str | None]] = {
    "invalid_request": ("invalid_request_error", None),
    "authentication": ("invalid_request_error", "invalid_api_key"),
    "permission": ("permission_error", None),
    "not_found": ("invalid_request_error", "model_not_found"),
    "unknown_path": ("invalid_request_error", "unknown_url"),
    "too_large": ("invalid_request_error", None),
    "rate_limit": ("rate_limit_error", "rate_limit_exceeded"),
    "overloaded": ("server_error", "service_unavailable"),
    "api_error": ("server_error", "server_error"),
    "timeout": ("server_error", "timeout"),
    "billing": ("insufficient_quota", "insufficient_quota"),
}


def error_fields(kind: str) -> tuple[str, str | None]:
    """Return the OpenAI error `type` and `code` of a canonical error kind (protocols.md 6.18)."""
    return _ERROR_TYPES.get(kind, ("server_error", None))


def encode_error(status: int, message: str, kind: str) -> bytes:
    """Encode an error body in the OpenAI format."""
    error_type, code = error_fields(kind)
    body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return wire.encoder.encode(body)


class _UsageCarrier(msgspec.Struct):
    usage: wire.UsageBody | None = None
    response: _UsageCarrier | None = None  # stream events nest the response


_usage_carrier = msgspec.json.Decoder(_UsageCarrier)


def decode_usage_of(data: bytes) -> ir.Usage | None:
    """The usage of a response body or of one stream event (`response.completed`)."""
    try:
        carrier = _usage_carrier.decode(data)
    except msgspec.DecodeError:
        return None
    usage = carrier.usage if carrier.response is None else carrier.response.usage
    return decode_usage(usage) if usage is not None else None


class _ContentCarrier(msgspec.Struct):
    delta: Any = None  # a string on every `….delta` event


_content_carrier = msgspec.json.Decoder(_ContentCarrier)


def content_length_of(data: bytes) -> int:
    """The characters of generated content (text, reasoning, tool arguments) in one stream
    event: what its `….delta` carries."""
    try:
        delta = _content_carrier.decode(data).delta
    except msgspec.DecodeError:
        return 0
    return len(delta) if isinstance(delta, str) else 0
