"""Messages response bodies, usage, stop reasons and errors (protocols.md 2.5, 2.9, 2.11, 6.14)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from plexus import ir
from plexus.errors import UpstreamError
from plexus.protocols import common
from plexus.protocols.messages import server_tools, wire

_ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ID_CHARACTERS = re.compile(r"[^a-zA-Z0-9_-]")

_ERROR_TYPES: dict[str, str] = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "unknown_path": "not_found_error",
    "too_large": "request_too_large",
    "rate_limit": "rate_limit_error",
    "overloaded": "overloaded_error",
    "api_error": "api_error",
    "timeout": "timeout_error",
    "billing": "billing_error",
}
_ERROR_KINDS: dict[str, tuple[str, int]] = {
    "invalid_request_error": ("invalid_request", 400),
    "authentication_error": ("authentication", 401),
    "billing_error": ("billing", 402),
    "permission_error": ("permission", 403),
    "not_found_error": ("not_found", 404),
    "request_too_large": ("too_large", 413),
    "rate_limit_error": ("rate_limit", 429),
    "api_error": ("api_error", 500),
    "timeout_error": ("timeout", 504),
    "overloaded_error": ("overloaded", 529),
}


def map_stop_reason(raw: str | None) -> ir.StopReason:
    """Map an Anthropic `stop_reason` to the closed IR set."""
    match raw:
        case "end_turn" | None:
            return "end"
        case "max_tokens":
            return "length"
        case "stop_sequence":
            return "stop_sequence"
        case "tool_use":
            return "tool_use"
        case "pause_turn":
            return "pause"
        case "refusal":
            return "refusal"
        case "model_context_window_exceeded":
            return "context_exceeded"
        case _:
            return "other"


def encode_stop_reason(reason: ir.StopReason, raw: str | None) -> str:
    """Map an IR stop reason to an Anthropic `stop_reason`; `other` keeps the raw value."""
    match reason:
        case "length":
            return "max_tokens"
        case "stop_sequence":
            return "stop_sequence"
        case "tool_use":
            return "tool_use"
        case "content_filter" | "refusal":
            return "refusal"
        case "pause":
            return "pause_turn"
        case "context_exceeded":
            return "model_context_window_exceeded"
        case "other":
            return raw or "end_turn"
        case _:
            return "end_turn"


def stop_details(stop_reason: str) -> dict[str, Any] | None:
    """Return the `stop_details` object a refusal carries (protocols.md 6.14)."""
    if stop_reason != "refusal":
        return None
    return {"type": "refusal", "category": None, "explanation": None}


def decode_usage(usage: wire.WireUsage | None, into: ir.Usage | None = None) -> ir.Usage:
    """Merge wire usage into `into` (fields present replace earlier values); returns the result."""
    result = ir.Usage() if into is None else into
    if usage is None:
        return result
    if usage.input_tokens is not None:
        result.input_tokens = usage.input_tokens
    if usage.output_tokens is not None:
        result.output_tokens = usage.output_tokens
    if usage.cache_read_input_tokens is not None:
        result.cache_read_tokens = usage.cache_read_input_tokens
    if usage.cache_creation_input_tokens is not None:
        result.cache_write_tokens = usage.cache_creation_input_tokens
    details = usage.output_tokens_details
    if details is not None and details.thinking_tokens is not None:
        result.reasoning_tokens = details.thinking_tokens
    return result


def encode_usage(usage: ir.Usage) -> dict[str, Any]:
    """Encode IR usage in Anthropic's buckets (input excludes cache reads and writes)."""
    encoded: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.reasoning_tokens is not None:
        encoded["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return encoded


def decode_response(body: bytes) -> ir.Response:
    """Decode a non-streamed Anthropic response body into the IR."""
    try:
        message = wire.MESSAGE_DECODER.decode(body)
        content = [block for block in map(decode_block, message.content) if block is not None]
    except msgspec.DecodeError as error:
        raise UpstreamError(f"malformed upstream response: {error}", status=502) from error
    return ir.Response(
        id=message.id,
        model=message.model,
        content=content,
        stop_reason=map_stop_reason(message.stop_reason),
        raw_stop_reason=message.stop_reason,
        stop_sequence=message.stop_sequence,
        usage=decode_usage(message.usage),
    )


def decode_block(raw: msgspec.Raw) -> ir.Block | None:
    """Decode one response content block; unknown blocks give None."""
    block = wire.BLOCK_DECODER.decode(raw)
    if server_tools.is_server_block(block.type):
        return server_tools.decode_block(block, bytes(raw), from_client=False)
    match block.type:
        case "text":
            return ir.TextBlock(text=block.text or "")
        case "thinking":
            return ir.ThinkingBlock(
                text=block.thinking or "", signature=block.signature or None, origin="anthropic"
            )
        case "redacted_thinking":
            return ir.ThinkingBlock(redacted=block.data or "", origin="anthropic")
        case "tool_use":
            arguments = bytes(block.input).decode() if block.input else ""
            return ir.ToolCallBlock(id=block.id or "", name=block.name or "", arguments=arguments)
        case _:
            return None


def message_id(response_id: str) -> str:
    """Return a `msg_…` id derived deterministically from an upstream id."""
    if response_id.startswith("msg_"):
        return response_id
    return "msg_" + _ID_CHARACTERS.sub("_", response_id)


def client_tool_id(call_id: str) -> str:
    """Return the IR id if Anthropic clients accept it, else a deterministic valid one."""
    return call_id if _ANTHROPIC_ID.match(call_id) else common.anthropic_tool_id(call_id)


def client_signature(block: ir.ThinkingBlock) -> str:
    """Return the signature string a Messages client gets: native or origin-tagged."""
    if block.origin == "anthropic" and block.signature:
        return block.signature
    return common.tag_token(block.origin or "openai-compatible", block.signature or "")


def encode_block(block: ir.Block) -> dict[str, Any] | None:
    """Encode one IR block as a response content block for a Messages client."""
    match block:
        case ir.TextBlock(text=text) | ir.RefusalBlock(text=text):
            return {"type": "text", "text": text} if text else None
        case ir.ThinkingBlock(redacted=redacted, origin="anthropic") if redacted:
            return {"type": "redacted_thinking", "data": redacted}
        case ir.ThinkingBlock(text=text):
            return {"type": "thinking", "thinking": text, "signature": client_signature(block)}
        case ir.ToolCallBlock(id=call_id, name=name, arguments=arguments):
            return {
                "type": "tool_use",
                "id": client_tool_id(call_id),
                "name": name,
                "input": common.parse_arguments(arguments),
            }
        case ir.ServerToolCallBlock() | ir.ServerToolResultBlock():
            return server_tools.encode_for_client(block)
        case _:
            return None


def encode_response(response: ir.Response, request: ir.Request) -> bytes:
    """Encode an IR response as a Messages response body for the client."""
    content = [block for block in map(encode_block, response.content) if block is not None]
    stop_reason = response.stop_reason
    if stop_reason == "end" and any(block["type"] == "tool_use" for block in content):
        stop_reason = "tool_use"
    raw = encode_stop_reason(stop_reason, response.raw_stop_reason)
    body: dict[str, Any] = {
        "id": message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": response.model or request.model,
        "content": content,
        "stop_reason": raw,
        "stop_sequence": response.stop_sequence if raw == "stop_sequence" else None,
        "usage": encode_usage(response.usage),
    }
    details = stop_details(raw)
    if details is not None:
        body["stop_details"] = details
    return wire.ENCODER.encode(body)


def error_object(message: str, kind: str) -> dict[str, Any]:
    """Return the `{"type": "error", "error": {...}}` object for an error kind."""
    return {
        "type": "error",
        "error": {"type": _ERROR_TYPES.get(kind, "api_error"), "message": message},
    }


def encode_error(status: int, message: str, kind: str) -> bytes:
    """Encode an error body in the Messages format."""
    return wire.ENCODER.encode(error_object(message, kind))


def stream_error(error: wire.ErrorObject | None) -> ir.StreamError:
    """Turn an upstream `error` event into an IR stream error."""
    if error is None:
        return ir.StreamError(message="upstream error event")
    kind, status = _ERROR_KINDS.get(error.type, ("api_error", 502))
    return ir.StreamError(message=error.message or error.type, kind=kind, status=status)


class _UsageCarrier(msgspec.Struct):
    usage: wire.WireUsage | None = None
    message: _UsageCarrier | None = None  # `message_start` nests the message


_usage_carrier = msgspec.json.Decoder(_UsageCarrier)


def decode_usage_of(data: bytes) -> ir.Usage | None:
    """The usage of a message body or of one stream event (`message_start`, `message_delta`)."""
    try:
        carrier = _usage_carrier.decode(data)
    except msgspec.DecodeError:
        return None
    usage = carrier.usage if carrier.message is None else carrier.message.usage
    return decode_usage(usage) if usage is not None else None


class _ContentDelta(msgspec.Struct):
    text: str | None = None
    thinking: str | None = None
    partial_json: str | None = None


class _ContentCarrier(msgspec.Struct):
    delta: _ContentDelta | None = None


_content_carrier = msgspec.json.Decoder(_ContentCarrier)


def content_length_of(data: bytes) -> int:
    """The characters of generated content (text, thinking, tool input) in one stream event."""
    try:
        delta = _content_carrier.decode(data).delta
    except msgspec.DecodeError:
        return 0
    if delta is None:
        return 0
    return len(delta.text or "") + len(delta.thinking or "") + len(delta.partial_json or "")
