"""A strict mock of OpenAI `POST /v1/responses`, hand-written (never Plexus's codec)."""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from aiohttp import web

from tests.mocks.base import MockState, Received, Reply
from tests.mocks.server_tools import Refused, check_hosted_item, responses_items

_MALFORMED = (AttributeError, TypeError, KeyError, IndexError, ValueError)

_KNOWN_FIELDS = frozenset(
    {
        *("model", "input", "instructions", "max_output_tokens", "temperature", "top_p"),
        *("top_logprobs", "tools", "tool_choice", "parallel_tool_calls", "max_tool_calls"),
        *("text", "reasoning", "stream", "stream_options", "store", "previous_response_id"),
        *("conversation", "include", "truncation", "background", "metadata", "user"),
        *("safety_identifier", "prompt_cache_key", "prompt_cache_retention", "service_tier"),
        "prompt",
    }
)
_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh"})
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


class Invalid(Exception):
    """A request the real API would answer with 400 invalid_request_error."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def _error(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> web.Response:
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return web.json_response(body, status=status)


def _validate_item(
    item: dict[str, Any], index: int, store: bool, stored: dict[str, dict[str, Any]] | None
) -> None:
    where = f"input[{index}]"
    kind = item.get("type", "message")
    if kind == "item_reference":
        if stored is not None and item.get("id") not in stored:
            raise Invalid(f"Item with id '{item.get('id')}' not found.", "input")
        return
    if kind == "message":
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise Invalid(f"Invalid value: '{role}'.", f"{where}.role", "invalid_value")
        content = item.get("content")
        for part in content if isinstance(content, list) else []:
            allowed = (
                ("output_text", "refusal")
                if role == "assistant"
                else ("input_text", "input_image", "input_file")
            )
            if part.get("type") not in allowed:
                supported = " and ".join(f"'{name}'" for name in allowed)
                raise Invalid(
                    f"Invalid value: '{part.get('type')}'. Supported values are: {supported}.",
                    f"{where}.content",
                    "invalid_value",
                )
    elif kind == "function_call":
        if "id" in item and not str(item["id"]).startswith("fc"):
            raise Invalid(
                f"Invalid '{where}.id': '{item['id']}'. Expected an ID that begins with 'fc'.",
                f"{where}.id",
                "invalid_value",
            )
        for key in ("call_id", "name", "arguments"):
            if not isinstance(item.get(key), str):
                raise Invalid(f"Missing required parameter: '{where}.{key}'.", f"{where}.{key}")
    elif kind == "reasoning":
        if "id" not in item or "summary" not in item:
            raise Invalid(f"Missing required parameter: '{where}.summary'.", f"{where}")
        if not store and not item.get("encrypted_content"):
            raise Invalid(
                f"Item with id '{item['id']}' not found. Items are not persisted when `store` is "
                "set to false.",
                f"{where}",
            )
    elif kind in ("function_call_output", "custom_tool_call_output"):
        if not isinstance(item.get("call_id"), str) or "output" not in item:
            raise Invalid(f"Missing required parameter: '{where}.output'.", where)
    elif kind in ("web_search_call", "code_interpreter_call"):
        try:
            check_hosted_item(item, where)
        except Refused as refused:
            raise Invalid(str(refused), where) from refused
    elif kind != "custom_tool_call":
        raise Invalid(f"Invalid value: '{kind}'.", f"{where}.type", "invalid_value")


def _validate_pairing(
    items: list[dict[str, Any]], stored: dict[str, dict[str, Any]] | None
) -> None:
    if stored is None:  # references unchecked: pair what is written out
        items = [i for i in items if i.get("type") != "item_reference"]
    else:
        items = [stored[i["id"]] if i.get("type") == "item_reference" else i for i in items]
    calls = [
        i.get("call_id") for i in items if i.get("type") in ("function_call", "custom_tool_call")
    ]
    outputs = {
        i.get("call_id")
        for i in items
        if i.get("type") in ("function_call_output", "custom_tool_call_output")
    }
    for call_id in calls:
        if call_id not in outputs:
            raise Invalid(f"No tool output found for function call {call_id}.", "input")
    for call_id in outputs - set(calls):
        raise Invalid(
            f"No tool call found for function call output with call_id {call_id}.", "input"
        )


def _validate_tools(body: dict[str, Any]) -> None:
    names: set[str] = set()
    for index, tool in enumerate(body.get("tools") or []):
        if tool.get("type") in ("function", "custom"):
            if "function" in tool:
                raise Invalid(
                    f"Missing required parameter: 'tools[{index}].name'.", f"tools[{index}].name"
                )
            if not _NAME.match(str(tool.get("name"))):
                raise Invalid(
                    f"Invalid 'tools[{index}].name': string does not match pattern.",
                    f"tools[{index}].name",
                )
            names.add(tool["name"])
    choice = body.get("tool_choice")
    if (
        isinstance(choice, dict)
        and choice.get("type") in ("function", "custom")
        and choice.get("name") not in names
    ):
        raise Invalid(
            f"Tool choice '{choice.get('name')}' not found in 'tools' parameter.", "tool_choice"
        )
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        raise Invalid(f"Invalid value: '{choice}'.", "tool_choice", "invalid_value")


def validate(body: dict[str, Any], stored: dict[str, dict[str, Any]] | None = None) -> None:
    """Raise `Invalid` the way the real API rejects a request; `stored` holds the items the mock
    answered before, by id (None: item references are not checked)."""
    for key in body:
        if key not in _KNOWN_FIELDS:
            raise Invalid(f"Unknown parameter: '{key}'.", key, "unknown_parameter")
    if not isinstance(body.get("model"), str):
        raise Invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        raise Invalid(
            "Invalid 'temperature': decimal above maximum value.",
            "temperature",
            "decimal_above_max_value",
        )
    top_p = body.get("top_p")
    if top_p is not None and not 0 <= top_p <= 1:
        raise Invalid(
            "Invalid 'top_p': decimal above maximum value.", "top_p", "decimal_above_max_value"
        )
    limit = body.get("max_output_tokens")
    if limit is not None and limit < 16:
        raise Invalid(
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, "
            f"but got {limit} instead.",
            "max_output_tokens",
            "integer_below_min_value",
        )
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None and effort not in _EFFORTS:
        raise Invalid(f"Invalid value: '{effort}'.", "reasoning.effort", "invalid_value")
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema" and ("name" not in fmt or "schema" not in fmt):
        raise Invalid("Missing required parameter: 'text.format.name'.", "text.format.name")
    items = body.get("input")
    if isinstance(items, list):
        for index, item in enumerate(items):
            _validate_item(item, index, body.get("store", True) is not False, stored)
        _validate_pairing(items, stored)
    _validate_tools(body)


# --- replies ---------------------------------------------------------------------------------


def _output(reply: Reply) -> list[dict[str, Any]]:
    output: list[dict[str, Any]] = responses_items(reply)
    if reply.reasoning or reply.signature:
        summary = [{"type": "summary_text", "text": reply.reasoning}] if reply.reasoning else []
        output.append(
            {
                "id": "rs_" + secrets.token_hex(8),
                "type": "reasoning",
                "summary": summary,
                "encrypted_content": reply.signature or None,
            }
        )
    if reply.text:
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": reply.text}
        output.append(
            {
                "id": "msg_" + secrets.token_hex(8),
                "type": "message",
                "status": "completed",
                "content": [part],
                "role": "assistant",
            }
        )
    for call in reply.tool_calls:
        output.append(
            {
                "id": "fc_" + secrets.token_hex(8),
                "type": "function_call",
                "status": "completed",
                "arguments": json.dumps(call.arguments),
                "call_id": call.id or "call_" + secrets.token_hex(8),
                "name": call.name,
            }
        )
    return output


def _response(
    body: dict[str, Any], reply: Reply, output: list[dict[str, Any]], done: bool
) -> dict[str, Any]:
    status, incomplete = "completed", None
    if reply.stop in ("length", "content_filter"):
        status = "incomplete"
        incomplete = {"reason": "max_output_tokens" if reply.stop == "length" else "content_filter"}
    # `Reply.input_tokens` is the whole prompt, cached tokens included, as OpenAI counts it.
    usage = {
        "input_tokens": reply.input_tokens,
        "input_tokens_details": {"cached_tokens": min(reply.cached_tokens, reply.input_tokens)},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }
    return {
        "id": body["_id"],
        "object": "response",
        "created_at": body["_created"],
        "status": status if done else "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": incomplete if done else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": reply.model or body["model"],
        "output": output if done else [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage if done else None,
        "user": None,
        "metadata": {},
    }


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of one output item, without sequence numbers (real OpenAI order, 3.7)."""
    where = {"item_id": item["id"], "output_index": index}
    kind = item["type"]
    shell = {**item, "status": "in_progress"}
    events: list[dict[str, Any]] = []
    if kind == "message":
        shell["content"] = []
        text = item["content"][0]["text"]
        empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        events.append({"type": "response.output_item.added", "output_index": index, "item": shell})
        events.append(
            {"type": "response.content_part.added", **where, "content_index": 0, "part": empty}
        )
        for start in range(0, len(text), 4):
            events.append(
                {
                    "type": "response.output_text.delta",
                    **where,
                    "content_index": 0,
                    "delta": text[start : start + 4],
                    "logprobs": [],
                    "obfuscation": "x1",
                }
            )
        events.append(
            {
                "type": "response.output_text.done",
                **where,
                "content_index": 0,
                "text": text,
                "logprobs": [],
            }
        )
        events.append(
            {
                "type": "response.content_part.done",
                **where,
                "content_index": 0,
                "part": item["content"][0],
            }
        )
    elif kind in ("web_search_call", "code_interpreter_call"):
        events.append({"type": "response.output_item.added", "output_index": index, "item": shell})
        phases = ("in_progress", "searching" if kind == "web_search_call" else "interpreting")
        events.extend({"type": f"response.{kind}.{phase}", **where} for phase in phases)
        events.append({"type": f"response.{kind}.completed", **where})
    elif kind == "function_call":
        shell["arguments"] = ""
        events.append({"type": "response.output_item.added", "output_index": index, "item": shell})
        arguments = item["arguments"]
        for start in range(0, len(arguments), 5):
            events.append(
                {
                    "type": "response.function_call_arguments.delta",
                    **where,
                    "delta": arguments[start : start + 5],
                    "obfuscation": "x1",
                }
            )
        events.append(
            {"type": "response.function_call_arguments.done", **where, "arguments": arguments}
        )
    else:
        events.append(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {"id": item["id"], "type": "reasoning", "summary": []},
            }
        )
        for summary_index, part in enumerate(item["summary"]):
            at = {**where, "summary_index": summary_index}
            events.append(
                {
                    "type": "response.reasoning_summary_part.added",
                    **at,
                    "part": {"type": "summary_text", "text": ""},
                }
            )
            events.append(
                {"type": "response.reasoning_summary_text.delta", **at, "delta": part["text"]}
            )
            events.append(
                {"type": "response.reasoning_summary_text.done", **at, "text": part["text"]}
            )
            events.append({"type": "response.reasoning_summary_part.done", **at, "part": part})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


async def _stream(
    request: web.Request, body: dict[str, Any], reply: Reply, output: list[dict[str, Any]]
) -> web.StreamResponse:
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response(body, reply, output, False)},
        {"type": "response.in_progress", "response": _response(body, reply, output, False)},
    ]
    for index, item in enumerate(output):
        events.extend(_item_events(index, item))
    final = _response(body, reply, output, True)
    events.append(
        {
            "type": "response.completed"
            if final["status"] == "completed"
            else "response.incomplete",
            "response": final,
        }
    )
    stream = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    await stream.prepare(request)
    for sequence, event in enumerate(events):
        if reply.cut_after_events is not None and sequence >= reply.cut_after_events:
            assert request.transport is not None
            request.transport.close()  # abrupt: no terminal event, no chunked terminator
            return stream
        framed = {**event, "sequence_number": sequence}
        await stream.write(f"event: {event['type']}\ndata: {json.dumps(framed)}\n\n".encode())
    await stream.write_eof()
    return stream


# What `POST /v1/responses/input_tokens` takes (openai-python `InputTokenCountParams`).
_INPUT_TOKENS_FIELDS = frozenset(
    {
        "conversation", "input", "instructions", "model", "parallel_tool_calls",
        "personality", "previous_response_id", "reasoning", "text", "tool_choice", "tools",
        "truncation",
    }
)  # fmt: skip


def create_app(state: MockState) -> web.Application:
    """Build the mock upstream: `POST /v1/responses` (also `/responses`)."""
    stored: dict[str, dict[str, Any]] = {}  # output items by id, as `item_reference` names them

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.")
        state.received.append(
            Received(
                request.method, request.path, dict(request.query), dict(request.headers), dict(body)
            )
        )
        if request.headers.get("Authorization") != f"Bearer {state.api_key}":
            return _error(401, "Incorrect API key provided.", None, "invalid_api_key")
        if not isinstance(body, dict):
            return _error(400, "Invalid body: expected an object.")
        try:
            validate(body, stored)
        except Invalid as invalid:
            return _error(400, invalid.message, invalid.param, invalid.code)
        except _MALFORMED:  # shapes the checks above do not expect: the API's schema 400
            return _error(400, "Invalid request body.", None, "invalid_value")
        reply = state.next_reply()
        if reply.error_status is not None:
            return _error(reply.error_status, reply.error_message)
        body["_id"] = "resp_" + secrets.token_hex(12)
        body["_created"] = int(time.time())
        output = _output(reply)
        if body.get("store", True) is not False:  # the API keeps what it answered, for references
            stored.update((item["id"], item) for item in output)
        if body.get("stream"):
            return await _stream(request, body, reply, output)
        return web.json_response(_response(body, reply, output, True))

    app = web.Application()

    async def input_tokens(request: web.Request) -> web.Response:
        """`POST /v1/responses/input_tokens`: the prompt half of a create body, counted."""
        body = await request.json()
        state.received.append(
            Received(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        if request.headers.get("Authorization") != f"Bearer {state.api_key}":
            return _error(401, "Incorrect API key provided.", None, "invalid_api_key")
        unknown = set(body) - _INPUT_TOKENS_FIELDS
        if unknown:
            return _error(
                400, f"Unknown parameter: '{sorted(unknown)[0]}'.", None, "unknown_parameter"
            )
        counted = len(json.dumps(body.get("input"))) // 4 + len(body.get("instructions") or "") // 4
        return web.json_response({"object": "response.input_tokens", "input_tokens": 1 + counted})

    app.router.add_post("/v1/responses/input_tokens", input_tokens)
    app.router.add_post("/v1/responses", handle)
    app.router.add_post("/responses", handle)
    return app
