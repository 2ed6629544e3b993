"""A strict mock of an OpenAI-compatible Chat Completions upstream (protocols.md part 1).

It validates like the real API (Bearer auth, path, required and unknown fields, ranges, tool-call
pairing) and answers in the shapes recorded from a real vendor (MiniMax via an OpenAI-compatible
server): explicit `null` delta fields, reasoning before tool calls, a trailing usage chunk.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import openai
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.mocks.base import MockState, Received, Reply
from tests.mocks.chat_endpoints import add_routes

_MALFORMED = (AttributeError, TypeError, KeyError, IndexError, ValueError)

_TOP_LEVEL = {
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n",
    "stop", "seed", "frequency_penalty", "presence_penalty", "logit_bias", "logprobs",
    "top_logprobs", "response_format", "tools", "tool_choice", "parallel_tool_calls",
    "functions", "function_call", "stream", "stream_options", "reasoning_effort", "verbosity",
    "metadata", "user", "safety_identifier", "prompt_cache_key", "store", "service_tier",
    "modalities", "audio", "prediction", "web_search_options",
}  # fmt: skip
_MESSAGE_FIELDS = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {
        "role", "content", "name", "refusal", "tool_calls", "function_call", "audio",
        "reasoning_content", "reasoning", "reasoning_details",
    },
    "tool": {"role", "content", "tool_call_id"},
}  # fmt: skip
_EFFORTS = {"none", "minimal", "low", "medium", "high", "xhigh", "max"}
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_FINISH = {
    "end": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
}


class Invalid(Exception):
    """A request the real API would answer with 400 invalid_request_error."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


def _error(
    status: int, message: str, kind: str, code: str | None, param: str | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return web.json_response(body, status=status)


@asynccontextmanager
async def served(state: MockState) -> AsyncIterator[openai.AsyncOpenAI]:
    """The mock on a loopback port, and the official SDK's client for it."""
    server = TestServer(create_app(state))
    await server.start_server()
    client = openai.AsyncOpenAI(
        base_url=str(server.make_url("/v1")), api_key=state.api_key, max_retries=0
    )
    try:
        yield client
    finally:
        await client.close()
        await server.close()


def create_app(state: MockState) -> web.Application:
    """Return the mock's aiohttp application, serving `POST /v1/chat/completions` (and
    `/v1/embeddings`, `/v1/completions`: chat_endpoints.py)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(
                400,
                "We could not parse the JSON body of your request.",
                "invalid_request_error",
                None,
            )
        headers = dict(request.headers)
        state.received.append(
            Received(request.method, request.path, dict(request.query), headers, body)
        )
        if request.headers.get("Authorization") != f"Bearer {state.api_key}":
            return _error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        try:
            validate(body)
        except Invalid as invalid:
            return _error(
                400, invalid.message, "invalid_request_error", "invalid_value", invalid.param
            )
        except _MALFORMED:  # shapes the checks above do not expect: the API's schema 400
            return _error(400, "Invalid request body.", "invalid_request_error", "invalid_value")
        reply = state.next_reply()
        if reply.error_status is not None:
            return _error(
                reply.error_status, reply.error_message, _error_type(reply.error_status), None
            )
        model = reply.model or body["model"]
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await _stream(request, reply, model, include_usage)
        return web.json_response(_completion(reply, model))

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    add_routes(app, state, _error)
    return app


def _error_type(status: int) -> str:
    return {
        429: "rate_limit_error",
        401: "invalid_request_error",
        400: "invalid_request_error",
    }.get(status, "server_error")


# --- validation --------------------------------------------------------------------------------


def validate(body: dict[str, Any]) -> None:
    """Raise `Invalid` the way the real API rejects a request."""
    for key in body:
        if key not in _TOP_LEVEL:
            raise Invalid(f"Unrecognized request argument supplied: {key}", key)
    if not isinstance(body.get("model"), str):
        raise Invalid("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Invalid("[] is too short - 'messages'", "messages")
    _check_range(body, "temperature", 0, 2)
    _check_range(body, "top_p", 0, 1)
    _check_range(body, "frequency_penalty", -2, 2)
    _check_range(body, "presence_penalty", -2, 2)
    for key in ("max_tokens", "max_completion_tokens", "n"):
        if key in body and (not isinstance(body[key], int) or body[key] < 1):
            raise Invalid(f"Invalid '{key}': integer below minimum value.", key)
    stop = body.get("stop")
    if isinstance(stop, list) and len(stop) > 4:
        raise Invalid("Invalid 'stop': array too long. Expected at most 4.", "stop")
    if "stream_options" in body and not body.get("stream"):
        raise Invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    if "reasoning_effort" in body and body["reasoning_effort"] not in _EFFORTS:
        raise Invalid("Invalid value for 'reasoning_effort'.", "reasoning_effort")
    _validate_tools(body)
    _validate_messages(messages)


def _check_range(body: dict[str, Any], key: str, low: float, high: float) -> None:
    value = body.get(key)
    if value is not None and (not isinstance(value, int | float) or not low <= value <= high):
        raise Invalid(f"Invalid '{key}': expected a value between {low} and {high}.", key)


def _validate_tools(body: dict[str, Any]) -> None:
    names = set()
    for position, tool in enumerate(body.get("tools") or []):
        function = tool.get("function") if tool.get("type") == "function" else None
        if not isinstance(function, dict) or not _TOOL_NAME.match(str(function.get("name", ""))):
            raise Invalid(f"Invalid 'tools[{position}].function.name'.", f"tools[{position}]")
        if set(tool) - {"type", "function"} or set(function) - {
            "name",
            "description",
            "parameters",
            "strict",
        }:
            raise Invalid(f"Unrecognized field in 'tools[{position}]'.", f"tools[{position}]")
        names.add(function["name"])
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if name not in names:
            raise Invalid(f"Tool choice '{name}' not found in 'tools' list.", "tool_choice")
    elif choice is not None and choice not in ("none", "auto", "required"):
        raise Invalid("Invalid value for 'tool_choice'.", "tool_choice")
    if choice is not None and not names:
        raise Invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
            "specified.",
            "tool_choice",
        )


def _validate_messages(messages: list[Any]) -> None:
    pending: list[str] = []
    for position, message in enumerate(messages):
        param = f"messages[{position}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _MESSAGE_FIELDS:
            raise Invalid(f"Invalid value for '{param}.role'.", param)
        extra = set(message) - _MESSAGE_FIELDS[role]
        if extra:
            raise Invalid(f"Unrecognized field(s) in '{param}': {sorted(extra)}", param)
        _check_parts(message, role, param)
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                raise Invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    param,
                )
            pending.remove(call_id)
            continue
        if pending:
            raise Invalid(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(pending)}",
                param,
            )
        if role == "assistant":
            calls = message.get("tool_calls") or []
            if message.get("content") is None and not calls:
                raise Invalid(
                    f"Invalid value for '{param}.content': expected a string, got null.", param
                )
            pending = [call["id"] for call in calls]
        elif "content" not in message:
            raise Invalid(f"Missing required parameter: '{param}.content'.", param)


_PART_TYPES = {
    "system": {"text"},
    "developer": {"text"},
    "tool": {"text"},
    "assistant": {"text", "refusal"},
    "user": {"text", "image_url", "input_audio", "file"},
}


def _check_parts(message: dict[str, Any], role: str, param: str) -> None:
    """Content parts must be of a type the role takes (tool results carry text only)."""
    content = message.get("content")
    if not isinstance(content, list):
        return
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _PART_TYPES[role]:
            expected = ", ".join(repr(t) for t in sorted(_PART_TYPES[role]))
            raise Invalid(
                f"Invalid value: {kind!r}. Supported values are: {expected}.",
                f"{param}.content[{index}].type",
            )


# --- answers -----------------------------------------------------------------------------------


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens}
        if reply.cached_tokens
        else None,
        "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        "reasoning_tokens": 0,
    }


def _finish_reason(reply: Reply) -> str:
    return "tool_calls" if reply.tool_calls else _FINISH.get(reply.stop, "stop")


def _call_ids(reply: Reply) -> list[str]:
    return [call.id or f"call_mock{position:04d}" for position, call in enumerate(reply.tool_calls)]


def _details(reply: Reply) -> list[dict[str, Any]] | None:
    if not reply.signature:
        return None
    return [{"type": "reasoning.text", "text": reply.reasoning, "signature": reply.signature,
             "format": "unknown", "index": 0}]  # fmt: skip


def _completion(reply: Reply, model: str) -> dict[str, Any]:
    calls = [
        {"id": call_id, "index": -1, "type": "function",
         "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
        for call_id, call in zip(_call_ids(reply), reply.tool_calls, strict=True)
    ]  # fmt: skip
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text or None,
        "reasoning_content": reply.reasoning or None,
        "tool_calls": calls or None,
    }
    details = _details(reply)
    if details:
        message["reasoning_details"] = details
    return {
        "id": "mockcmpl0001", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": _finish_reason(reply), "matched_stop": None}],
        "usage": _usage(reply),
    }  # fmt: skip


def _delta(**fields: Any) -> dict[str, Any]:
    delta: dict[str, Any] = {
        "role": None,
        "content": None,
        "reasoning_content": None,
        "tool_calls": None,
    }
    delta.update(fields)
    return delta


def _chunks(reply: Reply, model: str, include_usage: bool) -> list[dict[str, Any]]:
    created = int(time.time())

    def chunk(
        delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None
    ) -> dict[str, Any]:
        choices = (
            []
            if delta is None
            else [
                {
                    "index": 0,
                    "delta": delta,
                    "logprobs": None,
                    "finish_reason": finish,
                    "matched_stop": None,
                }
            ]
        )
        return {"id": "mockcmpl0002", "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": choices, "usage": usage}  # fmt: skip

    out = [chunk(_delta(role="assistant", content=""))]
    out += [chunk(_delta(reasoning_content=piece)) for piece in _pieces(reply.reasoning)]
    details = _details(reply)
    if details:
        # OpenRouter streams the text as deltas and sends the signature last, with empty text.
        details[0]["text"] = ""
        out.append(chunk(_delta(reasoning_details=details)))
    out += [chunk(_delta(content=piece)) for piece in _pieces(reply.text)]
    for position, (call_id, call) in enumerate(
        zip(_call_ids(reply), reply.tool_calls, strict=True)
    ):
        first = {"id": call_id, "index": position, "type": "function",
                 "function": {"name": call.name, "arguments": ""}}  # fmt: skip
        out.append(chunk(_delta(tool_calls=[first])))
        for piece in _pieces(json.dumps(call.arguments), size=8):
            more = {"id": None, "index": position, "type": "function",
                    "function": {"name": None, "arguments": piece}}  # fmt: skip
            out.append(chunk(_delta(tool_calls=[more])))
    out.append(chunk(_delta(), _finish_reason(reply)))
    if include_usage:
        out.append(chunk(None, usage=_usage(reply)))
    return out


def _pieces(text: str, size: int = 5) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


async def _stream(
    request: web.Request, reply: Reply, model: str, include_usage: bool
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    frames = [
        f"data: {json.dumps(chunk)}\n\n".encode() for chunk in _chunks(reply, model, include_usage)
    ]
    frames.append(b"data: [DONE]\n\n")
    for sent, frame in enumerate(frames):
        if reply.cut_after_events is not None and sent >= reply.cut_after_events:
            # Drop the connection without the terminator, as a crashed upstream would.
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write(frame)
    await response.write_eof()
    return response
