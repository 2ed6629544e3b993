"""A client's Chat Completions request body → IR request."""

from __future__ import annotations

import msgspec

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols.chat import wire
from plexus.protocols.chat.reasoning import details_to_blocks
from plexus.protocols.common import parse_data_url, unsign_call_id

_FILE_MEDIA_TYPES = {"pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv"}


def decode_request(body: bytes) -> ir.Request:
    """Decode a client's Chat Completions body into the IR; raise `BadRequest` with the path."""
    try:
        request = wire.REQUEST_DECODER.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise BadRequest(str(error)) from error
    if request.n is not None and request.n > 1:
        raise BadRequest("n > 1 is not supported", param="n")
    if request.logprobs:
        # The internal model carries no token probabilities: refuse rather than answer without.
        raise BadRequest(
            "logprobs are only available from a provider of type chat without translation",
            param="logprobs",
        )
    system, messages = _decode_messages(request.messages)
    tools, tool_choice = _decode_tools(request)
    stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    return ir.Request(
        model=request.model,
        messages=messages,
        system=system,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=request.parallel_tool_calls,
        max_tokens=request.max_completion_tokens or request.max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        stop=stop,
        seed=request.seed,
        frequency_penalty=request.frequency_penalty,
        presence_penalty=request.presence_penalty,
        reasoning=_decode_reasoning(request),
        response_format=_decode_response_format(request.response_format),
        stream=bool(request.stream),
        include_usage=include_usage,
        user=request.safety_identifier or request.user,
    )


def _decode_reasoning(request: wire.Request) -> ir.Reasoning | None:
    options = request.reasoning
    if options is not None:
        enabled = options.enabled is not False and options.effort != "none"
        effort = options.effort or request.reasoning_effort
        return ir.Reasoning(effort=effort, budget_tokens=options.max_tokens, enabled=enabled)
    if request.reasoning_effort is not None:
        effort = request.reasoning_effort
        return ir.Reasoning(effort=effort, enabled=effort != "none")
    return None


def _decode_response_format(value: wire.ResponseFormat | None) -> ir.ResponseFormat | None:
    if value is None:
        return None
    schema = value.json_schema
    if value.type != "json_schema" or schema is None:
        return ir.ResponseFormat(type=value.type)
    return ir.ResponseFormat(
        type="json_schema",
        name=schema.name,
        schema=schema.schema,
        strict=schema.strict,
        description=schema.description,
    )


# --- tools -----------------------------------------------------------------------------------


def _decode_tools(request: wire.Request) -> tuple[list[ir.Tool], ir.ToolChoice | None]:
    definitions = [_function_of(tool, i) for i, tool in enumerate(request.tools or [])]
    definitions += request.functions or []
    tools = [
        ir.Tool(
            name=function.name,
            description=function.description,
            parameters=function.parameters,
            strict=function.strict,
        )
        for function in definitions
    ]
    choice = request.tool_choice
    if choice is None and request.function_call is not None:
        legacy = request.function_call
        return tools, _choice(legacy) if isinstance(legacy, str) else ir.ToolChoice(
            mode="tool", name=legacy.name
        )
    if choice is None or isinstance(choice, str):
        return tools, _choice(choice) if choice is not None else None
    if choice.type == "function" and choice.function is not None:
        return tools, ir.ToolChoice(mode="tool", name=choice.function.name)
    if choice.type == "allowed_tools" and choice.allowed_tools is not None:
        allowed = {entry.function.name for entry in choice.allowed_tools.tools if entry.function}
        kept = [tool for tool in tools if tool.name in allowed]
        return kept, _choice(choice.allowed_tools.mode)
    raise BadRequest(f"unsupported tool_choice type {choice.type!r}", param="tool_choice")


def _function_of(tool: wire.ToolDefinition, position: int) -> wire.FunctionDefinition:
    if tool.type != "function" or tool.function is None:
        raise BadRequest(f"tool type {tool.type!r} is not supported", param=f"tools[{position}]")
    return tool.function


def _choice(mode: str) -> ir.ToolChoice:
    match mode:
        case "none":
            return ir.ToolChoice(mode="none")
        case "required":
            return ir.ToolChoice(mode="required")
        case _:
            return ir.ToolChoice(mode="auto")


# --- messages --------------------------------------------------------------------------------


def _decode_messages(
    messages: list[wire.Message],
) -> tuple[list[ir.TextBlock], list[ir.Message]]:
    system: list[ir.TextBlock] = []
    result: list[ir.Message] = []
    call_names: dict[str, str] = {}
    for position, message in enumerate(messages):
        match message:
            case wire.SystemMessage() | wire.DeveloperMessage():
                blocks = _text_blocks(message.content)
                if result:
                    result.append(ir.Message(role="system", content=list(blocks)))
                else:
                    system.extend(blocks)
            case wire.UserMessage():
                content = _user_content(message.content, position)
                if _ends_with_results(result):
                    result[-1].content.extend(content)
                else:
                    result.append(ir.Message(role="user", content=content))
            case wire.AssistantMessage():
                assistant = _assistant_content(message)
                for block in assistant:
                    if isinstance(block, ir.ToolCallBlock):
                        call_names[block.id] = block.name
                result.append(ir.Message(role="assistant", content=assistant))
            case wire.ToolMessage():
                text = "".join(block.text for block in _text_blocks(message.content))
                call_id = unsign_call_id(message.tool_call_id)[0]
                block = ir.ToolResultBlock(
                    call_id=call_id,
                    content=[ir.TextBlock(text=text)] if text else [],
                    name=call_names.get(call_id),
                )
                if _ends_with_results(result):
                    result[-1].content.append(block)
                else:
                    result.append(ir.Message(role="user", content=[block]))
    return system, result


def _ends_with_results(messages: list[ir.Message]) -> bool:
    """Tell whether the last message is a user turn made of tool results (so far)."""
    if not messages or messages[-1].role != "user":
        return False
    content = messages[-1].content
    return bool(content) and all(isinstance(block, ir.ToolResultBlock) for block in content)


def _text_blocks(content: str | list[wire.TextPart]) -> list[ir.TextBlock]:
    if isinstance(content, str):
        return [ir.TextBlock(text=content)]
    return [ir.TextBlock(text=part.text) for part in content]


def _user_content(content: str | list[wire.UserPart], position: int) -> list[ir.Block]:
    if isinstance(content, str):
        return [ir.TextBlock(text=content)]
    blocks: list[ir.Block] = []
    for part in content:
        match part:
            case wire.TextPart():
                blocks.append(ir.TextBlock(text=part.text))
            case wire.ImagePart():
                blocks.append(_image_block(part.image_url))
            case wire.AudioPart():
                media_type = f"audio/{part.input_audio.format}"
                blocks.append(ir.DocumentBlock(data=part.input_audio.data, media_type=media_type))
            case wire.FilePart():
                blocks.append(_document_block(part.file, position))
    return blocks


def _image_block(image: wire.ImageUrl) -> ir.ImageBlock:
    parsed = parse_data_url(image.url)
    if parsed is None:
        return ir.ImageBlock(url=image.url, detail=image.detail)
    media_type, data = parsed
    return ir.ImageBlock(data=data, media_type=media_type, detail=image.detail)


def _document_block(file: wire.FileData, position: int) -> ir.DocumentBlock:
    if file.file_data is None:
        # Provider file ids do not work across providers (protocols.md 6.4).
        raise BadRequest("file_id is not supported: send file_data", param=f"messages[{position}]")
    parsed = parse_data_url(file.file_data)
    if parsed is not None:
        media_type, data = parsed
    else:
        extension = (file.filename or "").rpartition(".")[2].lower()
        media_type, data = _FILE_MEDIA_TYPES.get(extension, "application/pdf"), file.file_data
    return ir.DocumentBlock(data=data, media_type=media_type, filename=file.filename)


def _assistant_content(message: wire.AssistantMessage) -> list[ir.Block]:
    calls, carried = _unsigned_calls(message.tool_calls or [])
    if message.function_call is not None and message.function_call.name:
        function = message.function_call
        calls.append(
            ir.ToolCallBlock(id="", name=function.name or "", arguments=function.arguments or "")
        )
    thinking, call_signatures = _assistant_reasoning(message, {call.id for call in calls})
    _restore_carried(carried, thinking, call_signatures)
    blocks: list[ir.Block] = list(thinking)
    if isinstance(message.content, str):
        if message.content:
            blocks.append(ir.TextBlock(text=message.content))
    else:
        for part in message.content or []:
            match part:
                case wire.TextPart():
                    blocks.append(ir.TextBlock(text=part.text))
                case wire.RefusalPart():
                    blocks.append(ir.RefusalBlock(text=part.refusal))
    if message.refusal:
        blocks.append(ir.RefusalBlock(text=message.refusal))
    for call in calls:
        signature = call_signatures.get(call.id)
        if signature is not None:
            blocks.append(signature)
        blocks.append(call)
    return blocks


def _unsigned_calls(
    tool_calls: list[wire.ToolCall],
) -> tuple[list[ir.ToolCallBlock], dict[str, ir.ThinkingBlock]]:
    """The calls under the provider's own ids, and the reasoning tokens their ids carried."""
    calls: list[ir.ToolCallBlock] = []
    carried: dict[str, ir.ThinkingBlock] = {}
    for call in tool_calls:
        block = _tool_call_block(call)
        block.id, origin, token = unsign_call_id(block.id)
        if origin is not None and token is not None:
            carried[block.id] = ir.ThinkingBlock(signature=token, origin=origin)
        calls.append(block)
    return calls, carried


def _restore_carried(
    carried: dict[str, ir.ThinkingBlock],
    thinking: list[ir.ThinkingBlock],
    call_signatures: dict[str, ir.ThinkingBlock],
) -> None:
    """Put back the reasoning a client dropped but a call id kept (issue 11 bug 7): Gemini's
    on its call; another origin's at the head of the turn, joined to the readable reasoning
    the client did send (`reasoning_content`), if any."""
    known = {b.signature for b in (*thinking, *call_signatures.values()) if b.signature}
    for call_id, block in carried.items():
        if block.signature in known:
            continue  # `reasoning_details` came back too
        if block.origin == "gemini":
            call_signatures.setdefault(call_id, block)
            continue
        unsigned = next((b for b in thinking if not b.signature and not b.redacted), None)
        if unsigned is not None:
            unsigned.signature, unsigned.origin = block.signature, block.origin
        else:
            thinking.insert(0, block)


def _assistant_reasoning(
    message: wire.AssistantMessage, call_ids: set[str]
) -> tuple[list[ir.ThinkingBlock], dict[str, ir.ThinkingBlock]]:
    # Precedence per protocols.md 5.1: reasoning_details keeps signatures, then the text fields.
    if message.reasoning_details:
        return details_to_blocks(message.reasoning_details, call_ids)
    text = message.reasoning_content or message.reasoning
    if text:
        return [ir.ThinkingBlock(text=text, origin="openai-compatible")], {}
    return [], {}


def _tool_call_block(call: wire.ToolCall) -> ir.ToolCallBlock:
    if call.custom is not None:
        raise BadRequest("custom tool calls are not supported", param="tool_calls")
    function = call.function or wire.FunctionCall()
    return ir.ToolCallBlock(
        id=call.id or "", name=function.name or "", arguments=function.arguments or ""
    )


class _OutputLimit(msgspec.Struct):
    max_completion_tokens: int | None = None
    max_tokens: int | None = None  # the older name, still sent by many clients


_output_limit = msgspec.json.Decoder(_OutputLimit)


def max_output_tokens_of(body: bytes) -> int | None:
    """The most output tokens a request body allows, if it says."""
    try:
        limit = _output_limit.decode(body)
    except msgspec.DecodeError:
        return None
    return limit.max_completion_tokens or limit.max_tokens
