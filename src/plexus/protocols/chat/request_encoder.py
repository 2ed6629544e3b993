"""IR → Chat Completions upstream body (chat as the provider)."""

from __future__ import annotations

from typing import Any

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols.chat.reasoning import details_for
from plexus.protocols.common import data_url, effort_for_budget, end_user_id, portable_url
from plexus.protocols.server_tools import join_text

_MAX_STOP = 4


def encode_request(request: ir.Request) -> dict[str, Any]:
    """Encode the IR as a Chat Completions body for an upstream."""
    body: dict[str, Any] = {"model": request.model, "messages": _encode_messages(request)}
    if request.tools:
        # Hosted tools (Codex always sends web_search) have no chat equivalent: leave them out.
        functions = [_encode_tool(tool) for tool in request.tools if tool.kind == "function"]
        if functions:
            body["tools"] = functions
    if request.tool_choice is not None and "tools" in body:
        body["tool_choice"] = _encode_tool_choice(request.tool_choice)
    if request.parallel_tool_calls is not None and "tools" in body:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.max_tokens is not None:
        body["max_completion_tokens"] = request.max_tokens
    _put(body, "temperature", _clamp(request.temperature, 0.0, 2.0))
    _put(body, "top_p", _clamp(request.top_p, 0.0, 1.0))
    _put(body, "frequency_penalty", _clamp(request.frequency_penalty, -2.0, 2.0))
    _put(body, "presence_penalty", _clamp(request.presence_penalty, -2.0, 2.0))
    _put(body, "seed", request.seed)
    _put(body, "user", end_user_id(request.user) if request.user else None)
    if request.stop:
        body["stop"] = request.stop[:_MAX_STOP]
    _put(body, "reasoning_effort", _encode_effort(request.reasoning))
    if request.response_format is not None:
        body["response_format"] = _encode_response_format(request.response_format)
    if request.stream:
        # Always ask for the usage chunk so the gateway can meter (protocols.md 1.7).
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _put(body: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        body[key] = value


def _clamp(value: float | None, low: float, high: float) -> float | None:
    return None if value is None else min(max(value, low), high)


def _encode_effort(reasoning: ir.Reasoning | None) -> str | None:
    if reasoning is None:
        return None
    if not reasoning.enabled:
        return "none"
    if reasoning.budget_tokens is not None:
        return effort_for_budget(reasoning.budget_tokens)
    return reasoning.effort


def _encode_response_format(value: ir.ResponseFormat) -> dict[str, Any]:
    if value.type != "json_schema":
        return {"type": value.type}
    schema: dict[str, Any] = {"name": value.name or "response"}
    _put(schema, "description", value.description)
    _put(schema, "schema", value.schema)
    _put(schema, "strict", value.strict)
    return {"type": "json_schema", "json_schema": schema}


def _encode_tool(tool: ir.Tool) -> dict[str, Any]:
    if tool.kind != "function":
        raise BadRequest(f"tool type {tool.kind!r} is not supported by a chat upstream")
    function: dict[str, Any] = {"name": tool.name}
    _put(function, "description", tool.description)
    _put(function, "parameters", tool.parameters)
    _put(function, "strict", tool.strict)
    return {"type": "function", "function": function}


def _encode_tool_choice(choice: ir.ToolChoice) -> str | dict[str, Any]:
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name or ""}}
    return choice.mode


# --- messages --------------------------------------------------------------------------------


def _encode_messages(request: ir.Request) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": _join_text(request.system, "\n\n")})
    for message in request.messages:
        match message.role:
            case "system":
                messages.append({"role": "system", "content": _join_text(message.content, "\n\n")})
            case "user":
                messages.extend(_encode_user(message.content))
            case "assistant":
                messages.append(_encode_assistant(message.content))
    return messages


def _join_text(blocks: list[ir.Block] | list[ir.TextBlock], separator: str) -> str:
    return separator.join(block.text for block in blocks if isinstance(block, ir.TextBlock))


def _encode_user(blocks: list[ir.Block]) -> list[dict[str, Any]]:
    """Return one `tool` message per result, then a user message with the remaining parts
    (tool-result images first: a `tool` message cannot carry them, protocols.md 6.8)."""
    messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, ir.ToolResultBlock):
            messages.append(_encode_tool_result(block, parts))
            continue
        part = _encode_part(block)
        if part is not None:
            parts.append(part)
    if parts:
        if len(parts) == 1 and parts[0]["type"] == "text":
            messages.append({"role": "user", "content": parts[0]["text"]})
        else:
            messages.append({"role": "user", "content": parts})
    return messages


def _encode_tool_result(result: ir.ToolResultBlock, media: list[dict[str, Any]]) -> dict[str, Any]:
    texts: list[str] = []
    for block in result.content:
        text = block.text if isinstance(block, ir.TextBlock | ir.DocumentBlock) else None
        if text is not None:
            texts.append(text)
        else:
            part = _encode_part(block)
            if part is not None:
                if not media:
                    label = result.name or result.call_id
                    media.append({"type": "text", "text": f"Media returned by tool {label}:"})
                media.append(part)
    content = "\n".join(texts)
    if result.is_error:
        content = f"Error: {content}"
    return {"role": "tool", "tool_call_id": result.call_id, "content": content}


def _encode_part(block: ir.Block) -> dict[str, Any] | None:
    match block:
        case ir.TextBlock():
            return {"type": "text", "text": block.text}
        case ir.ImageBlock():
            return _encode_image(block)
        case ir.DocumentBlock():
            return _encode_document(block)
        case _:
            return None


def _encode_image(block: ir.ImageBlock) -> dict[str, Any]:
    if block.url is not None:
        url = portable_url(block.url)
    elif block.data:
        url = data_url(block.media_type or "image/png", block.data)
    else:
        raise BadRequest("image block without data or URL")
    image: dict[str, Any] = {"url": url}
    _put(image, "detail", block.detail)
    return {"type": "image_url", "image_url": image}


def _encode_document(block: ir.DocumentBlock) -> dict[str, Any]:
    media_type = block.media_type or "application/pdf"
    if block.text is not None:
        title = block.title or block.filename or "document"
        return {"type": "text", "text": f"<document title={title!r}>\n{block.text}\n</document>"}
    if not block.data:
        raise BadRequest("document URLs are not supported by chat upstreams: send the data")
    if media_type.startswith("audio/"):
        audio_format = media_type.partition("/")[2]
        return {"type": "input_audio", "input_audio": {"data": block.data, "format": audio_format}}
    file = {"file_data": data_url(media_type, block.data), "filename": block.filename or "document"}
    return {"type": "file", "file": file}


def _encode_assistant(blocks: list[ir.Block]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant"}
    text = join_text(blocks)  # server tools (Chat has none) as readable text
    calls = [
        {
            "id": block.id,
            "type": "function",
            "function": {"name": block.name, "arguments": block.arguments or "{}"},
        }
        for block in blocks
        if isinstance(block, ir.ToolCallBlock)
    ]
    message["content"] = text if text or not calls else None
    refusal = "".join(block.text for block in blocks if isinstance(block, ir.RefusalBlock))
    if refusal:
        message["refusal"] = refusal
    if calls:
        message["tool_calls"] = calls
    _encode_assistant_reasoning(blocks, message)
    return message


def _encode_assistant_reasoning(blocks: list[ir.Block], message: dict[str, Any]) -> None:
    """Replay reasoning from OpenAI-compatible upstreams: unsigned text as `reasoning_content`
    (DeepSeek and Kimi need it on tool-call turns) and their own tokens as `reasoning_details`.

    Reasoning another family signed is dropped: strict chat servers (OpenAI, Bedrock) reject
    these fields, and those that take them (OpenRouter, Vercel) say so in their adapters."""
    texts: list[str] = []
    details: list[dict[str, Any]] = []
    for block in blocks:
        if not isinstance(block, ir.ThinkingBlock):
            continue
        own = block.origin in (None, "openai-compatible")
        signed = bool(block.signature or block.redacted)
        if block.text and (own or not signed):
            texts.append(block.text)
        if own and signed:
            details.extend(details_for(block))
    if texts:
        message["reasoning_content"] = "".join(texts)
    if details:
        for index, entry in enumerate(details):
            entry["index"] = index
        message["reasoning_details"] = details
