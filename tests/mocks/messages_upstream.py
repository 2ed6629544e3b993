"""A strict mock of the Anthropic Messages API (`POST /v1/messages`), written without Plexus code.

It validates requests the way the real API does (protocols.md part 2) and answers the scripted
`Reply` with realistic payloads, including the quirks of the recorded stream: `ping` events,
cache fields in `message_start` usage, `message_delta` repeating `input_tokens`, and data lines
padded with trailing spaces. `Reply.input_tokens` is the total input, cached tokens included;
Anthropic reports the uncached part as `input_tokens`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from aiohttp import web

from tests.mocks.base import MockState, Received, Reply
from tests.mocks.server_tools import (
    Refused,
    anthropic_blocks,
    check_anthropic_turn,
    check_pending_tool,
)

_MALFORMED = (AttributeError, TypeError, KeyError, IndexError, ValueError)

_TOP_LEVEL = {
    "model", "messages", "max_tokens", "system", "temperature", "top_p", "top_k",
    "stop_sequences", "stream", "tools", "tool_choice", "thinking", "output_config", "metadata",
    "cache_control", "service_tier", "inference_geo", "container", "context_management",
    "mcp_servers", "speed",
}  # fmt: skip
# 2023-06-01 is what gateways send; the installed SDK sends a newer dated version.
_VERSIONS = {"2023-01-01", "2023-06-01", "2026-10-21"}
_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_MEDIA_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}  # fmt: skip
_STOP_REASONS = {
    "end": "end_turn", "length": "max_tokens", "tool_use": "tool_use",
    "stop_sequence": "stop_sequence", "content_filter": "refusal", "pause": "pause_turn",
}  # fmt: skip


class Invalid(Exception):
    """A request the real API would answer with 400 invalid_request_error."""


def create_app(state: MockState) -> web.Application:
    """Return the mock Anthropic API application."""

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        state.received.append(
            Received(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={name.lower(): value for name, value in request.headers.items()},
                body=body if isinstance(body, dict) else {},
            )
        )
        key = request.headers.get("x-api-key") or request.headers.get(
            "authorization", ""
        ).removeprefix("Bearer ")
        if key != state.api_key:
            return _error(401, "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if version is None:
            return _error(400, "anthropic-version: header is required")
        if version not in _VERSIONS:
            return _error(400, f"anthropic-version: invalid version {version!r}")
        if not isinstance(body, dict):
            return _error(400, "There was an error parsing the body of your request")
        try:
            validate(body)
        except Invalid as error:
            return _error(400, str(error))
        except _MALFORMED:  # shapes the checks above do not expect: the API's schema 400
            return _error(400, "Input should be a valid request body")
        reply = state.next_reply()
        if reply.error_status is not None:
            return _error(reply.error_status, reply.error_message)
        model = reply.model or body["model"]
        if body.get("stream"):
            return await _stream(request, reply, model)
        return web.json_response(_message(reply, model))

    async def count_tokens(request: web.Request) -> web.Response:
        body = await request.json()
        if request.headers.get("x-api-key") != state.api_key:
            return _error(401, "invalid x-api-key")
        if not isinstance(body, dict) or "stream" in body or "max_tokens" in body:
            return _error(400, "count_tokens takes no max_tokens or stream")
        try:
            validate({**body, "max_tokens": 4096})
        except Invalid as error:
            return _error(400, str(error))
        state.received.append(
            Received("POST", request.path, dict(request.query), dict(request.headers), body)
        )
        return web.json_response({"input_tokens": 3 + len(json.dumps(body["messages"])) // 4})

    app = web.Application()
    app.router.add_post("/v1/messages", handle)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    return app


def _error(status: int, message: str) -> web.Response:
    error_type = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    body["request_id"] = "req_mock0001"
    return web.json_response(body, status=status, headers={"request-id": "req_mock0001"})


# --- validation ------------------------------------------------------------------------------


def validate(body: dict[str, Any]) -> None:
    """Raise Invalid the way the real API rejects a request."""
    for name in body:
        if name not in _TOP_LEVEL:
            raise Invalid(f"{name}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise Invalid("model: Field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise Invalid("max_tokens: Field required (an integer >= 1)")
    ceiling = _max_output(body["model"])
    if ceiling is not None and max_tokens > ceiling:
        raise Invalid(
            f"max_tokens: {max_tokens} > {ceiling}, which is the maximum allowed number of "
            f"output tokens for {body['model']}"
        )
    _check_range(body, "temperature", 0.0, 1.0)
    _check_range(body, "top_p", 0.0, 1.0)
    if "top_k" in body and (not isinstance(body["top_k"], int) or body["top_k"] < 0):
        raise Invalid("top_k: Input should be a non-negative integer")
    _check_system(body.get("system"))
    names = _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"), names)
    _check_thinking(body, max_tokens)
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or set(metadata) - {"user_id"}):
        raise Invalid("metadata: Extra inputs are not permitted")
    stops = body.get("stop_sequences")
    if stops is not None and not (
        isinstance(stops, list) and all(isinstance(s, str) for s in stops)
    ):
        raise Invalid("stop_sequences: Input should be a valid list of strings")
    for stop in stops or []:
        if not stop:
            raise Invalid("stop_sequences: each stop sequence must be non-empty")
        if not stop.strip():
            raise Invalid("stop_sequences: each stop sequence must contain non-whitespace")
    _check_messages(body.get("messages"), thinking_on=_thinking_on(body))
    _check_paused(body)
    output_format = (body.get("output_config") or {}).get("format")
    if output_format is not None:
        if output_format.get("type") != "json_schema" or not output_format.get("schema"):
            raise Invalid("output_config.format: Input tag does not match 'json_schema'")
        _check_closed(output_format["schema"], "output_config.format.schema")
    for position, tool in enumerate(body.get("tools") or []):
        if tool.get("strict"):
            _check_closed(tool.get("input_schema") or {}, f"tools.{position}.input_schema")


_MAX_OUTPUT = {
    "claude-3-haiku-20240307": 4096, "claude-3-opus-20240229": 4096,
    "claude-3-sonnet-20240229": 4096, "claude-3-5-haiku-20241022": 8192,
    "claude-3-5-sonnet-20241022": 8192, "claude-3-7-sonnet-20250219": 64000,
    "claude-sonnet-4-20250514": 64000, "claude-sonnet-4-0": 64000,
    "claude-opus-4-20250514": 32000, "claude-opus-4-0": 32000, "claude-opus-4-1": 32000,
    "claude-opus-4-1-20250805": 32000,
}  # fmt: skip


def _max_output(model: str) -> int | None:
    """The output ceiling of the models the tests name (from the models overview page)."""
    return _MAX_OUTPUT.get(model)


def _check_closed(schema: Any, where: str) -> None:
    """Structured output takes object schemas only with `additionalProperties: false`."""
    if isinstance(schema, list):
        for item in schema:
            _check_closed(item, where)
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if (kind == "object" or (isinstance(kind, list) and "object" in kind)) and schema.get(
        "additionalProperties"
    ) is not False:
        raise Invalid(
            f"{where}: For 'object' type, 'additionalProperties' must be explicitly set to false"
        )
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions"):
            for sub in value.values() if isinstance(value, dict) else []:
                _check_closed(sub, where)
        elif key in ("items", "anyOf", "allOf", "oneOf", "prefixItems", "additionalProperties"):
            _check_closed(value, where)


def _check_range(body: dict[str, Any], name: str, low: float, high: float) -> None:
    if name not in body:
        return
    value = body[name]
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise Invalid(f"{name}: range: {low}..{high}")


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise Invalid("system: Input should be a valid string or list")
    for position, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise Invalid(f"system.{position}: Input tag does not match 'text'")
        if not block.get("text"):
            raise Invalid(f"system.{position}: text content blocks must be non-empty")


def _check_tools(tools: Any) -> set[str]:
    if tools is None:
        return set()
    if not isinstance(tools, list):
        raise Invalid("tools: Input should be a valid list")
    names: set[str] = set()
    for position, tool in enumerate(tools):
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise Invalid(f"tools.{position}.name: String should match pattern")
        if name in names:
            raise Invalid("tools: Tool names must be unique.")
        names.add(name)
        if tool.get("type", "custom") == "custom":
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise Invalid(f"tools.{position}.custom.input_schema: Field required")
    return names


def _check_tool_choice(choice: Any, names: set[str]) -> None:
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise Invalid("tool_choice: Input tag does not match any of 'auto', 'any', 'tool', 'none'")
    if kind == "tool" and choice.get("name") not in names:
        raise Invalid(f"tool_choice: tool {choice.get('name')!r} not found in tools")


def _thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


# Opus 4.7+ and the Claude 5 family refuse manual thinking and non-default sampling (2.6).
_NEW_MODEL = re.compile(r"opus-4-[7-9]|(opus|sonnet)-[5-9]|fable|mythos")


def _check_thinking(body: dict[str, Any], max_tokens: int) -> None:
    thinking = body.get("thinking")
    new_model = _NEW_MODEL.search(str(body.get("model", ""))) is not None
    if new_model and any(body.get(name, 1) != 1 for name in ("temperature", "top_p")):
        raise Invalid("`temperature` is deprecated for this model.")
    if new_model and "top_k" in body:
        raise Invalid("`top_k` is deprecated for this model.")
    if thinking is None:
        return
    if new_model and isinstance(thinking, dict) and thinking.get("type") == "enabled":
        raise Invalid(
            '"thinking.type.enabled" is not supported for this model. Use '
            '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
        )
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "adaptive", "disabled"):
        raise Invalid("thinking: Input tag does not match 'enabled', 'adaptive', 'disabled'")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise Invalid("thinking.enabled.budget_tokens: Input should be >= 1024")
        if budget >= max_tokens:
            raise Invalid("`max_tokens` must be greater than `thinking.budget_tokens`")
        choice = body.get("tool_choice") or {}
        if choice.get("type") in ("any", "tool"):
            raise Invalid("Thinking may not be enabled when tool_choice forces tool use.")
    if kind in ("enabled", "adaptive"):
        if body.get("temperature", 1) != 1:
            raise Invalid("`temperature` may only be set to 1 when thinking is enabled.")
        if "top_k" in body:
            raise Invalid("`top_k` is not supported when thinking is enabled.")
        if body.get("top_p", 1) < 0.95:
            raise Invalid("`top_p` must be >= 0.95 when thinking is enabled.")


def _check_messages(messages: Any, *, thinking_on: bool) -> None:
    if not isinstance(messages, list) or not messages:
        raise Invalid("messages: at least one message is required")
    pending: list[str] = []
    seen_ids: set[str] = set()
    for position, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "system" and position > 0:
            # Current models take instructions mid-conversation (Claude Code sends them).
            _blocks(message.get("content"), position)
            continue
        if role not in ("user", "assistant"):
            raise Invalid(f'messages.{position}.role: Unexpected role "{role}"')
        if position == 0 and role != "user":
            raise Invalid('messages: first message must use the "user" role')
        blocks = _blocks(message.get("content"), position)
        if role == "user":
            _check_results(blocks, pending, position)
            pending = []
        else:
            if pending:
                raise Invalid(_missing_results(pending))
            pending = _check_assistant(blocks, position, seen_ids)
    if messages[-1]["role"] == "assistant" and thinking_on and not _paused(messages):
        raise Invalid("Assistant prefill is not supported when thinking is enabled.")
    if thinking_on:
        _check_final_assistant(messages)
    if pending:
        raise Invalid(_missing_results(pending))


def _paused(messages: list[dict[str, Any]]) -> str | None:
    """The server tool a last assistant turn left pending (a paused turn sent back), if any."""
    last = messages[-1]
    if last.get("role") != "assistant" or not isinstance(last.get("content"), list):
        return None
    return check_anthropic_turn(last["content"], f"messages.{len(messages) - 1}")


def _check_paused(body: dict[str, Any]) -> None:
    name = _paused(body["messages"])
    if name is not None:
        try:
            check_pending_tool(name, body.get("tools"))
        except Refused as refused:
            raise Invalid(str(refused)) from refused


def _check_final_assistant(messages: list[dict[str, Any]]) -> None:
    """With thinking on, the last assistant turn that calls tools must open with its thinking."""
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if message.get("role") != "assistant":
            continue
        blocks = _blocks(message.get("content"), position)
        kinds = [block.get("type") for block in blocks]
        if "tool_use" in kinds and kinds[0] not in ("thinking", "redacted_thinking"):
            raise Invalid(
                f"messages.{position}.content.0.type: Expected `thinking` or "
                f"`redacted_thinking`, but found `{kinds[0]}`. When `thinking` is enabled, a "
                "final `assistant` message must start with a thinking block (preceeding the "
                "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
                "thinking blocks from previous turns. To avoid this requirement, disable "
                "`thinking`."
            )
        return


_MOCK_SIGNATURE = "EqMock"


def mock_signature(text: str) -> str:
    """A signature the mock mints over a thinking text, and checks when it comes back (the real
    API verifies its signatures: a block whose text was changed or dropped is refused)."""
    return _MOCK_SIGNATURE + hashlib.sha256(text.encode()).hexdigest()[:24]


def _signature_holds(block: dict[str, Any]) -> bool:
    signature = str(block.get("signature"))
    if not signature.startswith(_MOCK_SIGNATURE):
        return True  # a test's own token: not the mock's to check
    return signature == mock_signature(str(block.get("thinking", "")))


def _missing_results(pending: list[str]) -> str:
    return (
        "messages: `tool_use` ids were found without `tool_result` blocks immediately after: "
        + ", ".join(pending)
        + ". Each `tool_use` block must have a corresponding `tool_result` block"
        + " in the next message."
    )


def _blocks(content: Any, position: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            raise Invalid(f"messages.{position}: text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        raise Invalid(f"messages.{position}: all messages must have non-empty content")
    for block in content:
        _check_block(block, position)
    return content


def _check_block(block: Any, position: int) -> None:
    kind = block.get("type") if isinstance(block, dict) else None
    where = f"messages.{position}.content"
    if kind == "text" and not block.get("text"):
        raise Invalid(f"{where}: text content blocks must be non-empty")
    if kind == "image":
        source = block.get("source") or {}
        if source.get("type") == "base64":
            if source.get("media_type") not in _MEDIA_TYPES or not source.get("data"):
                raise Invalid(f"{where}: image source must have a supported media_type and data")
        elif source.get("type") != "url" or not source.get("url"):
            raise Invalid(f"{where}: image source type must be 'base64' or 'url'")
    if kind == "thinking" and (not block.get("signature") or "thinking" not in block):
        raise Invalid(f"{where}: thinking.signature: Field required")
    if kind == "thinking" and not _signature_holds(block):
        raise Invalid(f"{where}: Invalid `signature` in `thinking` block")
    if kind == "tool_result":
        content = block.get("content")
        if content == "" or content == []:
            raise Invalid(f"{where}: tool_result content must be non-empty")


def _check_results(blocks: list[dict[str, Any]], pending: list[str], position: int) -> None:
    if any(_server_block(block) for block in blocks):
        raise Invalid(
            f"messages.{position}: server tool blocks are only allowed in assistant turns"
        )
    results = [block for block in blocks if block.get("type") == "tool_result"]
    leading = blocks[: len(results)]
    if leading != results:
        raise Invalid(
            f"messages.{position}: tool_result blocks must come first in the user message"
        )
    answered: set[str] = set()
    for result in results:
        call_id = result.get("tool_use_id")
        if call_id not in pending:
            raise Invalid(f"messages.{position}: unexpected `tool_use_id` found in `tool_result`")
        answered.add(call_id)
    missing = [call_id for call_id in pending if call_id not in answered]
    if missing:
        raise Invalid(_missing_results(missing))


def _server_block(block: dict[str, Any]) -> bool:
    kind = str(block.get("type"))
    return kind == "server_tool_use" or (kind.endswith("_tool_result") and kind != "tool_result")


def _check_assistant(blocks: list[dict[str, Any]], position: int, seen_ids: set[str]) -> list[str]:
    try:
        check_anthropic_turn(blocks, f"messages.{position}.content")
    except Refused as refused:
        raise Invalid(str(refused)) from refused
    calls: list[str] = []
    for block in blocks:
        if block.get("type") == "tool_result":
            raise Invalid(f"messages.{position}: tool_result blocks are only allowed in user turns")
        if block.get("type") != "tool_use":
            continue
        call_id = block.get("id")
        if not isinstance(call_id, str) or not _TOOL_ID.match(call_id):
            raise Invalid(f"messages.{position}.content.id: String should match pattern")
        if call_id in seen_ids:
            raise Invalid("messages: `tool_use` ids must be unique")
        if not isinstance(block.get("input"), dict):
            raise Invalid(f"messages.{position}.content.input: Input should be a valid dictionary")
        seen_ids.add(call_id)
        calls.append(call_id)
    return calls


# --- answers ---------------------------------------------------------------------------------


def _usage(reply: Reply) -> dict[str, Any]:
    cached = min(reply.cached_tokens, reply.input_tokens)
    return {
        "input_tokens": reply.input_tokens - cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": reply.output_tokens,
        "service_tier": "standard",
    }


def _stop_reason(reply: Reply) -> str:
    if reply.tool_calls and reply.stop == "end":
        return "tool_use"
    return _STOP_REASONS.get(reply.stop, "end_turn")


def _content(reply: Reply) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if reply.reasoning or reply.signature:
        signature = reply.signature or mock_signature(reply.reasoning)
        content.append({"type": "thinking", "thinking": reply.reasoning, "signature": signature})
    server = anthropic_blocks(reply)
    done = [b for b in server if b["type"] != "server_tool_use" or _answered(b, server)]
    content += done  # the searches and runs before the answer; a pending one ends the turn
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    content += [block for block in server if block not in done]
    for position, call in enumerate(reply.tool_calls):
        call_id = call.id or f"toolu_mock{position:04d}"
        content.append(
            {"type": "tool_use", "id": call_id, "name": call.name, "input": call.arguments}
        )
    return content


def _answered(call: dict[str, Any], blocks: list[dict[str, Any]]) -> bool:
    return any(block.get("tool_use_id") == call["id"] for block in blocks)


def _message(reply: Reply, model: str) -> dict[str, Any]:
    stop_reason = _stop_reason(reply)
    return {
        "model": model,
        "id": "msg_mock0001",
        "type": "message",
        "role": "assistant",
        "content": _content(reply),
        "stop_reason": stop_reason,
        "stop_sequence": "STOP" if stop_reason == "stop_sequence" else None,
        "usage": _usage(reply),
    }


def _stream_events(reply: Reply, model: str) -> list[dict[str, Any]]:
    message = _message(reply, model)
    start = dict(message, content=[], stop_reason=None, stop_sequence=None)
    start["usage"] = dict(message["usage"], output_tokens=1)
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(index, block))
        events.append({"type": "ping"})
    usage_keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    usage = {key: message["usage"][key] for key in (*usage_keys, "output_tokens")}
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    events.append({"type": "message_delta", "delta": delta, "usage": usage})
    events.append({"type": "message_stop"})
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    def delta(body: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": index, "delta": body}

    events: list[dict[str, Any]] = []
    shell: dict[str, Any]
    if block["type"] == "thinking":
        shell = {"type": "thinking", "thinking": "", "signature": ""}
        events.append({"type": "content_block_start", "index": index, "content_block": shell})
        events.extend(delta({"type": "thinking_delta", "thinking": part})
                      for part in _chunks(block["thinking"]))  # fmt: skip
        events.append(delta({"type": "signature_delta", "signature": block["signature"]}))
    elif block["type"] == "text":
        shell = {"type": "text", "text": ""}
        events.append({"type": "content_block_start", "index": index, "content_block": shell})
        events.extend(
            delta({"type": "text_delta", "text": part}) for part in _chunks(block["text"])
        )
    elif "input" not in block:  # a server tool's result: whole in its start (2.10)
        events.append({"type": "content_block_start", "index": index, "content_block": block})
    else:
        shell = {**block, "input": {}}
        events.append({"type": "content_block_start", "index": index, "content_block": shell})
        events.append(delta({"type": "input_json_delta", "partial_json": ""}))
        arguments = json.dumps(block["input"])
        events.extend(delta({"type": "input_json_delta", "partial_json": part})
                      for part in _chunks(arguments, 7))  # fmt: skip
    events.append({"type": "content_block_stop", "index": index})
    return events


def _chunks(text: str, size: int = 12) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


async def _stream(request: web.Request, reply: Reply, model: str) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "request-id": "req_mock0001",
        }
    )
    await response.prepare(request)
    for count, event in enumerate(_stream_events(reply, model)):
        if reply.cut_after_events is not None and count >= reply.cut_after_events:
            if request.transport is not None:
                request.transport.close()
            return response
        # The recording pads some payloads with trailing spaces; parsers must tolerate them.
        padding = "   " if count % 3 == 1 else ""
        frame = f"event: {event['type']}\ndata: {json.dumps(event)}{padding}\n\n"
        await response.write(frame.encode())
    await response.write_eof()
    return response
