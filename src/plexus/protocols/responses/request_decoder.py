"""A client's Responses request body → IR request (protocols.md 3.2-3.4, 6.2-6.12)."""

from __future__ import annotations

from typing import Any

import msgspec

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import common
from plexus.protocols.responses import hosted, wire
from plexus.protocols.responses.reasoning import thinking_from_reasoning
from plexus.protocols.responses.wire import ContentPart, InputItem, ToolSpec

_EFFORTS: dict[str, ir.Effort] = {
    "none": "none",
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}
_ASSISTANT_ITEMS = frozenset({"function_call", "custom_tool_call", "reasoning"})
_TOOL_OUTPUT_ITEMS = frozenset({"function_call_output", "custom_tool_call_output"})
_FREEFORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"input": {"type": "string"}},
    "required": ["input"],
}


def qualified_name(namespace: str | None, name: str) -> str:
    """Flatten a namespaced function name (Codex namespaces already end with `__`)."""
    if not namespace:
        return name
    return namespace + name if namespace.endswith("_") else f"{namespace}__{name}"


def decode_request(body: bytes) -> ir.Request:
    """Decode a client's Responses body into the IR."""
    try:
        raw = wire.request_decoder.decode(body)
    except msgspec.ValidationError as error:
        raise BadRequest(f"invalid request: {error}") from error
    except msgspec.DecodeError as error:
        raise BadRequest(f"malformed JSON body: {error}") from error
    if raw.previous_response_id or raw.conversation:
        # Server-side state lives with OpenAI; through another provider type it would be lost
        # silently and the model would answer without its context.
        raise BadRequest(
            "previous_response_id and conversation need a provider of type responses; "
            "send the whole conversation in `input` (with store: false) instead",
            param="previous_response_id" if raw.previous_response_id else "conversation",
        )
    if raw.top_logprobs or "message.output_text.logprobs" in (raw.include or ()):
        # The internal model carries no token probabilities: refuse rather than answer without.
        raise BadRequest(
            "logprobs are only available from a provider of type responses without translation",
            param="top_logprobs" if raw.top_logprobs else "include",
        )
    system = [ir.TextBlock(raw.instructions)] if raw.instructions else []
    items: list[InputItem] = []
    if isinstance(raw.input, str):
        items = [InputItem(role="user", content=raw.input)]
    elif isinstance(raw.input, list):
        items = raw.input
    messages = _decode_items(items, system, body)
    return ir.Request(
        model=raw.model,
        messages=messages,
        system=system,
        tools=[tool for spec in raw.tools or [] for tool in _decode_tool(spec)],
        tool_choice=_decode_tool_choice(raw.tool_choice),
        parallel_tool_calls=raw.parallel_tool_calls,
        max_tokens=raw.max_output_tokens,
        temperature=raw.temperature,
        top_p=raw.top_p,
        reasoning=_decode_reasoning(raw.reasoning),
        response_format=_decode_format(raw.text),
        stream=bool(raw.stream),
        user=raw.safety_identifier or raw.user,
    )


def _decode_items(
    items: list[InputItem], system: list[ir.TextBlock], body: bytes
) -> list[ir.Message]:
    messages: list[ir.Message] = []
    names: dict[str, str] = {}
    raws: list[msgspec.Raw] = []  # the items as JSON, read once a hosted tool item needs it
    for position, item in enumerate(items):
        kind = item.type
        if hosted.is_hosted(kind):
            raws = raws or hosted.raw_items(body, "input")
            _add_assistant(messages, hosted.decode_item(raws[position], from_client=True))
            continue
        if kind == "message" and item.role in ("system", "developer"):
            blocks = _decode_parts(item.content, position)
            if not messages:
                system.extend(b for b in blocks if isinstance(b, ir.TextBlock))
            else:
                messages.append(ir.Message("system", blocks))
        elif (kind == "message" and item.role == "assistant") or kind in _ASSISTANT_ITEMS:
            block = _decode_assistant_item(item, position, names)
            if block is not None:
                _add_assistant(messages, block)
        elif kind in _TOOL_OUTPUT_ITEMS:
            result = _decode_tool_output(item, position, names)
            if messages and messages[-1].role == "user" and _ends_with_result(messages[-1]):
                messages[-1].content.append(result)
            else:
                messages.append(ir.Message("user", [result]))
        elif kind == "message":
            if item.role != "user":
                raise BadRequest(f"invalid role {item.role!r} at $.input[{position}].role")
            blocks = _decode_parts(item.content, position)
            if messages and messages[-1].role == "user" and _ends_with_result(messages[-1]):
                messages[-1].content.extend(blocks)
            else:
                messages.append(ir.Message("user", blocks))
        elif kind == "item_reference":
            # The translation path puts back the items it issued; any other is unknown here.
            raise BadRequest(
                f"item_reference {item.id!r} at $.input[{position}] names no item this gateway "
                "holds: send the item itself",
                param=f"input[{position}]",
            )
        # Other item types (client-run computer and shell calls) only make sense to OpenAI.
    return messages


def _add_assistant(messages: list[ir.Message], blocks: list[ir.Block]) -> None:
    if messages and messages[-1].role == "assistant":
        messages[-1].content.extend(blocks)
    else:
        messages.append(ir.Message("assistant", blocks))


def _ends_with_result(message: ir.Message) -> bool:
    return bool(message.content) and isinstance(message.content[-1], ir.ToolResultBlock)


def _decode_assistant_item(
    item: InputItem, position: int, names: dict[str, str]
) -> list[ir.Block] | None:
    match item.type:
        case "message":
            return _decode_parts(item.content, position)
        case "function_call" | "custom_tool_call":
            if not item.call_id or not item.name:
                raise BadRequest(f"function_call needs call_id and name at $.input[{position}]")
            name = qualified_name(item.namespace, item.name)
            names[item.call_id] = name
            if item.type == "custom_tool_call":
                arguments = common.dump_json({"input": item.input or ""})
            else:
                arguments = item.arguments or ""
            return [ir.ToolCallBlock(id=item.call_id, name=name, arguments=arguments)]
        case _:
            parts = item.summary or []
            text = "\n\n".join(part.text for part in parts if part.text)
            if not text and isinstance(item.content, list):
                text = "\n\n".join(part.text or "" for part in item.content if part.text)
            if not text and item.encrypted_content is None:
                return None
            return [thinking_from_reasoning(item.id, text, item.encrypted_content)]


def _decode_tool_output(
    item: InputItem, position: int, names: dict[str, str]
) -> ir.ToolResultBlock:
    if not item.call_id:
        raise BadRequest(f"function_call_output needs call_id at $.input[{position}]")
    content: list[ir.ToolResultContent] = []
    if isinstance(item.output, str):
        content = [ir.TextBlock(item.output)] if item.output else []
    elif item.output is not None:
        for block in _decode_parts(item.output, position):
            if isinstance(block, ir.TextBlock | ir.ImageBlock | ir.DocumentBlock):
                content.append(block)
    name = item.name or names.get(item.call_id)
    return ir.ToolResultBlock(call_id=item.call_id, content=content, name=name)


def _decode_parts(content: str | list[ContentPart] | None, position: int) -> list[ir.Block]:
    if content is None:
        return []
    if isinstance(content, str):
        return [ir.TextBlock(content)] if content else []
    blocks: list[ir.Block] = []
    for part in content:
        block = _decode_part(part, position)
        if block is not None:
            blocks.append(block)
    return blocks


def _decode_part(part: ContentPart, position: int) -> ir.Block | None:
    match part.type:
        case "input_text" | "output_text" | "text":
            return ir.TextBlock(part.text) if part.text else None
        case "refusal":
            return ir.RefusalBlock(part.refusal or part.text or "")
        case "input_image":
            if part.image_url is None:
                raise BadRequest(
                    f"input_image needs image_url (file_id unsupported) at $.input[{position}]"
                )
            parsed = common.parse_data_url(part.image_url)
            if parsed is None:
                return ir.ImageBlock(url=part.image_url, detail=part.detail)
            return ir.ImageBlock(data=parsed[1], media_type=parsed[0], detail=part.detail)
        case "input_file":
            return _decode_file(part, position)
        case _:
            raise BadRequest(f"unsupported content part {part.type!r} at $.input[{position}]")


def _decode_file(part: ContentPart, position: int) -> ir.DocumentBlock:
    if part.file_url:
        return ir.DocumentBlock(url=part.file_url, filename=part.filename)
    if not part.file_data:
        raise BadRequest(f"input_file needs file_data or file_url at $.input[{position}]")
    parsed = common.parse_data_url(part.file_data)
    if parsed is None:
        return ir.DocumentBlock(
            data=part.file_data, media_type="application/pdf", filename=part.filename
        )
    return ir.DocumentBlock(data=parsed[1], media_type=parsed[0], filename=part.filename)


def _decode_tool(spec: ToolSpec) -> list[ir.Tool]:
    match spec.type:
        case "function" if spec.function is not None:
            fn = spec.function
            return [ir.Tool(fn.name, fn.description, fn.parameters, fn.strict)]
        case "function":
            if not spec.name:
                raise BadRequest("function tool needs a name at $.tools")
            return [ir.Tool(spec.name, spec.description, spec.parameters, spec.strict)]
        case "custom":
            if not spec.name:
                raise BadRequest("custom tool needs a name at $.tools")
            return [ir.Tool(spec.name, spec.description, _FREEFORM_SCHEMA, freeform=True)]
        case "namespace":
            return [_namespaced(spec.name or "", inner) for inner in spec.tools or []]
        case other:
            kind = _hosted_kind(other)
            return [ir.Tool(name=kind, kind=kind)]


def _hosted_kind(tool_type: str) -> str:
    """The IR kind of a hosted tool: web search and code execution are shared across families."""
    if tool_type.startswith("web_search"):
        return "web_search"
    return "code_execution" if tool_type == "code_interpreter" else tool_type


def _namespaced(namespace: str, spec: ToolSpec) -> ir.Tool:
    tool = _decode_tool(spec)[0]
    tool.name = qualified_name(namespace, tool.name)
    tool.namespace = namespace
    return tool


def _decode_tool_choice(choice: str | wire.ToolChoiceObject | None) -> ir.ToolChoice | None:
    match choice:
        case None:
            return None
        case "auto" | "none" | "required":
            return ir.ToolChoice(choice)
        case str():
            raise BadRequest(f"invalid tool_choice {choice!r} at $.tool_choice")
        case wire.ToolChoiceObject(type="allowed_tools", mode=mode):
            return ir.ToolChoice("required" if mode == "required" else "auto")
        case wire.ToolChoiceObject(function=wire.ToolChoiceName(name=name)):
            return ir.ToolChoice("tool", name)
        case wire.ToolChoiceObject(type="function" | "custom", name=str() as name):
            return ir.ToolChoice("tool", name)
        case wire.ToolChoiceObject(type=other):
            return ir.ToolChoice("tool", _hosted_kind(other))


def _decode_reasoning(config: wire.ReasoningConfig | None) -> ir.Reasoning | None:
    if config is None:
        return None
    effort = _EFFORTS.get(config.effort or "")
    summary = config.summary or config.generate_summary
    return ir.Reasoning(effort=effort, summary=summary, enabled=effort != "none")


def _decode_format(text: wire.TextConfig | None) -> ir.ResponseFormat | None:
    if text is None or text.format is None:
        return None
    fmt = text.format
    match fmt.type:
        case "json_schema":
            return ir.ResponseFormat(
                "json_schema", fmt.name, fmt.schema, fmt.strict, fmt.description
            )
        case "json_object":
            return ir.ResponseFormat("json_object")
        case "text":
            return ir.ResponseFormat("text")
        case other:
            raise BadRequest(f"unsupported text.format.type {other!r} at $.text.format.type")


class _OutputLimit(msgspec.Struct):
    max_output_tokens: int | None = None


_output_limit = msgspec.json.Decoder(_OutputLimit)


def max_output_tokens_of(body: bytes) -> int | None:
    """The most output tokens a request body allows, if it says."""
    try:
        return _output_limit.decode(body).max_output_tokens
    except msgspec.DecodeError:
        return None
