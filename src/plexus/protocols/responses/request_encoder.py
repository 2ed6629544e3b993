"""IR request → Responses upstream body (protocols.md 3.2-3.4, 6.2-6.12)."""

from __future__ import annotations

from typing import Any

from plexus import ir
from plexus.protocols import common
from plexus.protocols.counting import responses_count_request
from plexus.protocols.responses import hosted
from plexus.protocols.responses.reasoning import unpack_token
from plexus.protocols.server_tools import is_code_execution

_OBJECT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def encode_request(request: ir.Request) -> dict[str, Any]:
    """Encode the IR as a Responses upstream body."""
    freeform = {tool.name for tool in request.tools if tool.freeform}
    body: dict[str, Any] = {"model": request.model}
    if request.system:
        body["instructions"] = "\n\n".join(block.text for block in request.system)
    body["input"] = [item for m in request.messages for item in _encode_message(m, freeform)]
    if request.tools:
        body["tools"] = [encode_tool_spec(tool) for tool in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = _encode_tool_choice(request.tool_choice, request.tools)
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.max_tokens is not None:
        body["max_output_tokens"] = max(16, request.max_tokens)
    if request.temperature is not None:
        body["temperature"] = min(2.0, max(0.0, request.temperature))
    if request.top_p is not None:
        body["top_p"] = min(1.0, max(0.0, request.top_p))
    if request.response_format is not None:
        body["text"] = {"format": _encode_format(request.response_format)}
    body["store"] = False
    reasoning = _encode_reasoning(request.reasoning)
    if reasoning is not None:
        body["reasoning"] = reasoning
        if reasoning.get("effort") != "none":
            body["include"] = ["reasoning.encrypted_content"]
    if request.user:
        body["safety_identifier"] = common.end_user_id(request.user)
    if request.stream:
        body["stream"] = True
    return body


def _encode_message(message: ir.Message, freeform: set[str]) -> list[dict[str, Any]]:
    if message.role == "assistant":
        return _encode_assistant(message.content, freeform)
    role = "developer" if message.role == "system" else "user"
    items: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, ir.ToolResultBlock):
            if parts:
                items.append({"type": "message", "role": role, "content": parts})
                parts = []
            items.append(_encode_tool_result(block, freeform))
        else:
            part = _encode_input_part(block)
            if part is not None:
                parts.append(part)
    if parts:
        items.append({"type": "message", "role": role, "content": parts})
    return items


def _encode_assistant(blocks: list[ir.Block], freeform: set[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in hosted.for_provider(blocks):
        if isinstance(block, ir.TextBlock | ir.RefusalBlock):
            if isinstance(block, ir.RefusalBlock):
                parts.append({"type": "refusal", "refusal": block.text})
            elif block.text:
                parts.append({"type": "output_text", "text": block.text, "annotations": []})
            continue
        if parts:
            items.append({"type": "message", "role": "assistant", "content": parts})
            parts = []
        match block:
            case dict():  # OpenAI's own hosted tool item, as it came
                items.append(block)
            case ir.ToolCallBlock(id=call_id, name=name, arguments=arguments) if name in freeform:
                raw_input = common.parse_arguments(arguments).get("input", "")
                items.append(
                    {
                        "type": "custom_tool_call",
                        "call_id": call_id,
                        "name": name,
                        "input": str(raw_input),
                    }
                )
            case ir.ToolCallBlock(id=call_id, name=name, arguments=arguments):
                # Never a foreign id in `id` (protocols.md 6.7): call_id pairs call and output.
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call_id,
                        "name": name,
                        "arguments": arguments,
                    }
                )
            case ir.ThinkingBlock(origin="openai", signature=str() as signature):
                item = _reasoning_item(block.text, *unpack_token(signature, block.item_id))
                if item is not None:
                    items.append(item)
            case _:
                pass  # foreign reasoning tokens never reach OpenAI (protocols.md 6.9)
    if parts:
        items.append({"type": "message", "role": "assistant", "content": parts})
    return items


def _encode_tool_result(block: ir.ToolResultBlock, freeform: set[str]) -> dict[str, Any]:
    output: str | list[dict[str, Any]]
    if all(isinstance(part, ir.TextBlock) for part in block.content):
        output = "\n".join(part.text for part in block.content if isinstance(part, ir.TextBlock))
    else:
        output = [p for p in (_encode_input_part(part) for part in block.content) if p is not None]
    if block.is_error and isinstance(output, str):
        output = f"Error: {output}"
    kind = "custom_tool_call_output" if block.name in freeform else "function_call_output"
    return {"type": kind, "call_id": block.call_id, "output": output}


def _encode_input_part(block: ir.Block) -> dict[str, Any] | None:
    match block:
        case ir.TextBlock(text=text) if text:
            return {"type": "input_text", "text": text}
        case ir.ImageBlock(url=str() as url):
            image_url = common.portable_url(url)
            return {"type": "input_image", "image_url": image_url, "detail": block.detail or "auto"}
        case ir.ImageBlock(data=str() as data):
            url = common.data_url(block.media_type or "image/png", data)
            return {"type": "input_image", "image_url": url, "detail": block.detail or "auto"}
        case ir.DocumentBlock(text=str() as text):
            title = block.title or block.filename or "document"
            return {
                "type": "input_text",
                "text": f"<document title={title!r}>\n{text}\n</document>",
            }
        case ir.DocumentBlock(data=str() as data):
            part = {
                "type": "input_file",
                "file_data": common.data_url(block.media_type or "application/pdf", data),
            }
            part["filename"] = block.filename or "document.pdf"
            return part
        case ir.DocumentBlock(url=str() as url):
            return {"type": "input_file", "file_url": common.portable_url(url)}
        case ir.RefusalBlock(text=text):
            return {"type": "input_text", "text": text}
        case _:
            return None


def encode_tool_spec(tool: ir.Tool) -> dict[str, Any]:
    """Encode one tool in the flat Responses shape."""
    if is_code_execution(tool.kind):  # any family's code execution is OpenAI's interpreter
        return {"type": "code_interpreter", "container": {"type": "auto"}}
    if tool.kind != "function":
        return {"type": tool.kind}
    if tool.freeform:
        spec: dict[str, Any] = {"type": "custom", "name": tool.name}
    else:
        spec = {
            "type": "function",
            "name": tool.name,
            "parameters": tool.parameters or _OBJECT_SCHEMA,
            "strict": bool(tool.strict),
        }
    if tool.description:
        spec["description"] = tool.description
    return spec


def _encode_tool_choice(choice: ir.ToolChoice, tools: list[ir.Tool]) -> str | dict[str, Any]:
    if choice.mode != "tool":
        return choice.mode
    for tool in tools:
        if tool.name == choice.name:
            if tool.kind != "function":
                return {"type": encode_tool_spec(tool)["type"]}
            return {"type": "custom" if tool.freeform else "function", "name": tool.name}
    return {"type": "function", "name": choice.name}


def _encode_format(fmt: ir.ResponseFormat) -> dict[str, Any]:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    spec: dict[str, Any] = {"type": "json_schema", "name": fmt.name or "response"}
    spec["schema"] = fmt.schema or {"type": "object"}
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    if fmt.description:
        spec["description"] = fmt.description
    return spec


def _encode_reasoning(reasoning: ir.Reasoning | None) -> dict[str, Any] | None:
    if reasoning is None:
        return None
    if not reasoning.enabled:
        return {"effort": "none"}
    effort = reasoning.effort
    if reasoning.budget_tokens is not None:
        effort = common.effort_for_budget(reasoning.budget_tokens)
    config: dict[str, Any] = {}
    if effort is not None:
        config["effort"] = effort
    if reasoning.summary:
        known = reasoning.summary in ("auto", "concise", "detailed")
        config["summary"] = reasoning.summary if known else "auto"
    return config


def _reasoning_item(text: str, item_id: str | None, token: str) -> dict[str, Any] | None:
    if item_id is None:
        return None  # OpenAI needs the item id with its encrypted_content
    summary = [{"type": "summary_text", "text": text}] if text else []
    return {"type": "reasoning", "id": item_id, "summary": summary, "encrypted_content": token}


def encode_count_request(request: ir.Request) -> dict[str, Any] | None:
    """IR → the body of `POST /v1/responses/input_tokens`."""
    return responses_count_request(encode_request(request))
