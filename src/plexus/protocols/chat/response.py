"""Chat Completions responses: upstream body → IR, IR → client body, stop reasons, usage, errors."""

from __future__ import annotations

import math
import time
from typing import Any

import msgspec

from plexus import ir
from plexus.errors import UpstreamError
from plexus.protocols.chat import wire
from plexus.protocols.chat.reasoning import (
    blocks_to_details,
    details_to_blocks,
    needs_details,
    reasoning_text,
)
from plexus.protocols.common import mint_id, sign_call_id
from plexus.protocols.server_tools import join_text


def map_stop_reason(raw: str | None) -> ir.StopReason:
    """Map a `finish_reason` to the IR's closed set (protocols.md 6.14)."""
    match raw:
        case "stop" | None:
            return "end"
        case "length":
            return "length"
        case "tool_calls" | "function_call":
            return "tool_use"
        case "content_filter":
            return "content_filter"
        case "pause_turn":  # an Anthropic reason a chat-shaped gateway may pass on
            return "pause"
        case "error":
            return "error"
        case _:
            return "other"


def encode_finish_reason(reason: ir.StopReason, raw: str | None) -> str:
    """Map an IR stop reason to a `finish_reason`; `other` keeps the upstream's raw value."""
    match reason:
        case "end" | "stop_sequence" | "pause":
            return "stop"
        case "length" | "context_exceeded":
            return "length"
        case "tool_use":
            return "tool_calls"
        case "content_filter" | "refusal":
            return "content_filter"
        case "error":
            return raw or "error"
        case "other":
            return raw or "stop"


# --- usage -----------------------------------------------------------------------------------


def decode_usage(usage: wire.Usage) -> ir.Usage:
    """Split Chat usage (prompt tokens include cached ones) into the IR's disjoint buckets."""
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens if details else None) or usage.prompt_cache_hit_tokens or 0
    written = (details.cache_write_tokens if details else None) or 0
    completion = usage.completion_tokens_details
    reasoning = completion.reasoning_tokens if completion else None
    if reasoning is None and usage.reasoning_tokens:
        # MiniMax reports a top-level count, and 0 even when it reasoned: trust only > 0.
        reasoning = usage.reasoning_tokens
    return ir.Usage(
        input_tokens=max(0, (usage.prompt_tokens or 0) - cached - written),
        output_tokens=usage.completion_tokens or 0,
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=reasoning,
        cost=_decode_cost(usage.cost),
    )


def _decode_cost(cost: float | str | None) -> float | None:
    """The reported USD cost, if it is a finite non-negative number."""
    if isinstance(cost, str):
        try:
            cost = float(cost)
        except ValueError:
            return None
    if cost is None or not 0 <= cost < math.inf:
        return None
    return cost


def encode_usage(usage: ir.Usage) -> dict[str, Any]:
    """Encode IR usage the Chat way: prompt tokens include cache reads and writes."""
    prompt = usage.total_input_tokens
    prompt_details: dict[str, Any] = {"cached_tokens": usage.cache_read_tokens}
    if usage.cache_write_tokens:
        prompt_details["cache_write_tokens"] = usage.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
    }


# --- responses -------------------------------------------------------------------------------


def decode_response(body: bytes) -> ir.Response:
    """Decode an upstream `chat.completion` into the IR."""
    try:
        completion = wire.COMPLETION_DECODER.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise UpstreamError(f"malformed upstream response: {error}", status=502) from error
    if not completion.choices:
        raise UpstreamError("upstream response has no choices", status=502)
    choice = completion.choices[0]
    content = decode_message(choice.message)
    stop = map_stop_reason(choice.finish_reason)
    if any(isinstance(block, ir.ToolCallBlock) for block in content):
        # A forced named tool comes back with "stop" (protocols.md 1.5): trust the calls.
        stop = "tool_use"
    return ir.Response(
        id=completion.id or mint_id("chatcmpl-"),
        model=completion.model or "",
        content=content,
        stop_reason=stop,
        raw_stop_reason=choice.finish_reason,
        usage=decode_usage(completion.usage) if completion.usage else ir.Usage(),
        created=completion.created or 0,
    )


def decode_message(message: wire.ResponseMessage) -> list[ir.Block]:
    """Return the IR blocks of an upstream message: reasoning, text, refusal, tool calls."""
    calls = [
        ir.ToolCallBlock(
            id=call.id or mint_id("call_"),
            name=(call.function.name if call.function else None) or "",
            arguments=(call.function.arguments if call.function else None) or "",
        )
        for call in message.tool_calls or []
    ]
    blocks: list[ir.Block] = []
    call_signatures: dict[str, ir.ThinkingBlock] = {}
    if message.reasoning_details:
        thinking, call_signatures = details_to_blocks(
            message.reasoning_details, {call.id for call in calls}
        )
        blocks.extend(thinking)
    elif message.reasoning_content or message.reasoning:
        text = message.reasoning_content or message.reasoning or ""
        blocks.append(ir.ThinkingBlock(text=text, origin="openai-compatible"))
    if message.content:
        blocks.append(ir.TextBlock(text=message.content))
    if message.refusal:
        blocks.append(ir.RefusalBlock(text=message.refusal))
    for call in calls:
        if call.id in call_signatures:
            blocks.append(call_signatures[call.id])
        blocks.append(call)
    return blocks


def chat_id(upstream_id: str) -> str:
    """Return a `chatcmpl-` id: the upstream's own, prefixed when it is foreign (msg_…, resp_…)."""
    return upstream_id if upstream_id.startswith("chatcmpl") else f"chatcmpl-{upstream_id}"


def _encode_calls(content: list[ir.Block]) -> list[dict[str, Any]]:
    """The tool calls of an answer; the first after a signed thinking block carries its token in
    its id, for clients that do not send `reasoning_details` back (issue 11 bug 7)."""
    calls: list[dict[str, Any]] = []
    signer: ir.ThinkingBlock | None = None
    for block in content:
        if isinstance(block, ir.ThinkingBlock) and block.signature and block.origin:
            signer = block
        elif isinstance(block, ir.ToolCallBlock):
            call_id = block.id or mint_id("call_")
            if signer is not None and signer.origin is not None and signer.signature:
                call_id = sign_call_id(call_id, signer.origin, signer.signature)
                signer = None
            # `function` first: the key order these bodies have always had.
            calls.append(
                {
                    "function": {"name": block.name, "arguments": block.arguments or "{}"},
                    "id": call_id,
                    "type": "function",
                }
            )
    return calls


def encode_response(response: ir.Response, request: ir.Request) -> bytes:
    """Encode the IR answer as the client's `chat.completion` body."""
    content = response.content
    text = join_text(content)  # server tools (Chat has none) as readable text
    refusal = "".join(block.text for block in content if isinstance(block, ir.RefusalBlock))
    calls = _encode_calls(content)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text or (None if calls or refusal else ""),
        "refusal": refusal or None,
    }
    thinking = reasoning_text(content)
    if thinking:
        message["reasoning_content"] = thinking
    if needs_details(content):
        message["reasoning_details"] = blocks_to_details(content)
    if calls:
        message["tool_calls"] = calls
    choice = {
        "message": message,
        "finish_reason": encode_finish_reason(response.stop_reason, response.raw_stop_reason),
        "index": 0,
        "logprobs": None,
    }
    completion = {
        "id": chat_id(response.id) if response.id else mint_id("chatcmpl-"),
        "created": response.created or int(time.time()),
        "model": response.model or request.model,
        "choices": [choice],
        "usage": encode_usage(response.usage),
        "object": "chat.completion",
    }
    return wire.ENCODER.encode(completion)


# --- errors ----------------------------------------------------------------------------------

_ERROR_TYPES: dict[str, tuple[str, str | None]] = {
    "invalid_request": ("invalid_request_error", None),
    "authentication": ("invalid_request_error", "invalid_api_key"),
    "permission": ("permission_error", None),
    "not_found": ("invalid_request_error", "model_not_found"),
    "unknown_path": ("invalid_request_error", "unknown_url"),
    "too_large": ("invalid_request_error", "request_too_large"),
    "rate_limit": ("rate_limit_error", "rate_limit_exceeded"),
    "overloaded": ("service_unavailable_error", None),
    "api_error": ("server_error", None),
    "timeout": ("server_error", "timeout"),
    "billing": ("insufficient_quota", "insufficient_quota"),
}


def error_object(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    """Return the `{"error": {...}}` envelope of an error kind (protocols.md 6.18)."""
    error_type, code = _ERROR_TYPES.get(kind, ("server_error", None))
    return {"error": {"message": message, "type": error_type, "code": code, "param": param}}


def encode_error(status: int, message: str, kind: str) -> bytes:
    """Encode an error body in the Chat Completions format."""
    del status  # the HTTP status travels in the response line, not the body
    return wire.ENCODER.encode(error_object(message, kind))


_KIND_FOR_TYPE = {
    "invalid_request_error": "invalid_request",
    "rate_limit_error": "rate_limit",
    "insufficient_quota": "billing",
    "permission_error": "permission",
    "service_unavailable_error": "overloaded",
}


def error_kind(error_type: str | None) -> str:
    """Return the canonical error kind of an upstream error `type`."""
    return _KIND_FOR_TYPE.get(error_type or "", "api_error")


class _UsageCarrier(msgspec.Struct):
    usage: wire.Usage | None = None


_usage_carrier = msgspec.json.Decoder(_UsageCarrier)


def decode_usage_of(data: bytes) -> ir.Usage | None:
    """The usage of a `chat.completion` body or of one chunk, if it carries one."""
    try:
        usage = _usage_carrier.decode(data).usage
    except msgspec.DecodeError:
        return None
    return decode_usage(usage) if usage is not None else None


class _FunctionDelta(msgspec.Struct):
    arguments: str | None = None


class _ToolCallDelta(msgspec.Struct):
    function: _FunctionDelta | None = None


class _ContentDelta(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None  # OpenRouter's name for the same text
    tool_calls: list[_ToolCallDelta] | None = None


class _ContentChoice(msgspec.Struct):
    delta: _ContentDelta | None = None


class _ContentCarrier(msgspec.Struct):
    choices: list[_ContentChoice] | None = None


_content_carrier = msgspec.json.Decoder(_ContentCarrier)


def content_length_of(data: bytes) -> int:
    """The characters of generated content (text, reasoning, tool arguments) in one chunk."""
    try:
        choices = _content_carrier.decode(data).choices or ()
    except msgspec.DecodeError:
        return 0
    length = 0
    for choice in choices:
        delta = choice.delta
        if delta is None:
            continue
        length += len(delta.content or "") + len(delta.refusal or "")
        length += max(len(delta.reasoning_content or ""), len(delta.reasoning or ""))
        for call in delta.tool_calls or ():
            length += len(call.function.arguments or "") if call.function is not None else 0
    return length


class _ChoicesCarrier(msgspec.Struct):
    choices: list[Any] | None = None
    usage: dict[str, Any] | None = None


_choices_carrier = msgspec.json.Decoder(_ChoicesCarrier)


def is_usage_chunk(data: bytes) -> bool:
    """Whether one stream chunk only carries the usage (`choices: []`): what
    `stream_options.include_usage` adds at a stream's end."""
    try:
        chunk = _choices_carrier.decode(data)
    except msgspec.DecodeError:
        return False
    return chunk.choices == [] and chunk.usage is not None
