"""Gemini request body ↔ IR request (protocols.md 4.2–4.6, 6.2–6.12)."""

from __future__ import annotations

from typing import Any

import msgspec

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import common
from plexus.protocols.gemini import wire
from plexus.protocols.gemini.parts import CallLedger, decode_parts, encode_parts

_ROLES: dict[str, ir.Role] = {
    "user": "user",
    "model": "assistant",
    "function": "user",
    "tool": "user",
}
_MODES: dict[str, ir.ToolChoice] = {
    "AUTO": ir.ToolChoice(mode="auto"),
    "VALIDATED": ir.ToolChoice(mode="auto"),
    "ANY": ir.ToolChoice(mode="required"),
    "NONE": ir.ToolChoice(mode="none"),
}
_LEVELS: dict[str, ir.Effort] = {
    "MINIMAL": "minimal",
    "LOW": "low",
    "MEDIUM": "medium",
    "HIGH": "high",
}
_HOSTED = {"googleSearch": "web_search", "googleSearchRetrieval": "web_search"}
_HOSTED_OUT = {
    "web_search": "googleSearch",
    "code_execution": "codeExecution",
    "url_context": "urlContext",
}
_SCHEMA_META = frozenset({"$schema", "$id", "$comment"})
# Not a vendor rule: the Gemini docs' FAQ value that skips validation for calls Gemini did not
# sign (protocols.md 4.6, unconfirmed); Gemini 3 rejects unsigned calls of the current turn.
DUMMY_SIGNATURE = "skip_thought_signature_validator"
MAX_STOP_SEQUENCES = 5


# --- decode (client side) --------------------------------------------------------------------


def decode_request(body: bytes) -> ir.Request:
    """Decode a client's generateContent body; the caller sets `model` and `stream` from the URL."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise BadRequest(f"invalid JSON body: {error}") from error
    if not isinstance(raw, dict):
        raise BadRequest("request body must be a JSON object")
    try:
        payload = msgspec.convert(wire.normalise_keys(raw), wire.GenerateContentRequest)
    except msgspec.ValidationError as error:
        raise BadRequest(str(error)) from error
    if not payload.contents:
        raise BadRequest("contents is required", param="contents")
    request = ir.Request(model="", messages=_decode_contents(payload.contents))
    request.system = _decode_system(payload.systemInstruction)
    request.tools = _decode_tools(payload.tools or [])
    _decode_tool_config(request, payload.toolConfig)
    if payload.generationConfig is not None:
        _decode_generation(request, payload.generationConfig)
    return request


def _decode_system(instruction: wire.Content | str | None) -> list[ir.TextBlock]:
    if instruction is None:
        return []
    if isinstance(instruction, str):
        return [ir.TextBlock(text=instruction)] if instruction else []
    return [ir.TextBlock(text=part.text) for part in instruction.parts if part.text]


def _decode_contents(contents: list[wire.Content]) -> list[ir.Message]:
    ledger = CallLedger()
    messages: list[ir.Message] = []
    for position, content in enumerate(contents):
        role = _ROLES.get(content.role or "user")
        if role is None:
            raise BadRequest(
                f"contents[{position}].role must be 'user' or 'model', got {content.role!r}",
                param=f"contents[{position}].role",
            )
        if role == "assistant":
            ledger.model_turn()
        blocks = decode_parts(content.parts, ledger, from_client=True)
        if blocks:
            messages.append(ir.Message(role=role, content=blocks))
    return messages


def _decode_tools(tools: list[wire.Tool]) -> list[ir.Tool]:
    decoded: list[ir.Tool] = []
    for tool in tools:
        for declaration in tool.functionDeclarations or []:
            schema = declaration.parametersJsonSchema
            if schema is None and declaration.parameters is not None:
                schema = openapi_to_json_schema(declaration.parameters)
            decoded.append(
                ir.Tool(
                    name=declaration.name, description=declaration.description, parameters=schema
                )
            )
        for field, kind in (
            *_HOSTED.items(),
            ("codeExecution", "code_execution"),
            ("urlContext", "url_context"),
        ):
            if getattr(tool, field) is not None:
                decoded.append(ir.Tool(name=kind, kind=kind))
    return decoded


def openapi_to_json_schema(schema: Any) -> Any:
    """Convert Google's OpenAPI-subset Schema (upper-case types, `nullable`) to JSON Schema."""
    if isinstance(schema, list):
        return [openapi_to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            converted["type"] = value.lower()
        elif key in ("properties", "$defs", "defs"):
            converted[key] = {name: openapi_to_json_schema(item) for name, item in value.items()}
        elif key in ("items", "anyOf", "additionalProperties"):
            converted[key] = openapi_to_json_schema(value)
        elif key not in ("nullable", "propertyOrdering", "example"):
            converted[key] = value
    if schema.get("nullable") is True and isinstance(converted.get("type"), str):
        converted["type"] = [converted["type"], "null"]
    return converted


def _decode_tool_config(request: ir.Request, config: wire.ToolConfig | None) -> None:
    calling = config.functionCallingConfig if config is not None else None
    if calling is None or calling.mode is None:
        return
    choice = _MODES.get(calling.mode.upper())
    if choice is None:
        raise BadRequest(f"unknown functionCallingConfig.mode {calling.mode!r}")
    allowed = calling.allowedFunctionNames or []
    if choice.mode == "required" and len(allowed) == 1:
        choice = ir.ToolChoice(mode="tool", name=allowed[0])
    elif allowed and choice.mode != "none":
        request.tools = [t for t in request.tools if t.kind != "function" or t.name in allowed]
    request.tool_choice = choice


def _decode_generation(request: ir.Request, config: wire.GenerationConfig) -> None:
    if config.candidateCount is not None and config.candidateCount > 1:
        raise BadRequest(
            "candidateCount > 1 is not supported", param="generationConfig.candidateCount"
        )
    if config.responseLogprobs:
        # The internal model carries no token probabilities: refuse rather than answer without.
        raise BadRequest(
            "logprobs are only available from a provider of type gemini without translation",
            param="generationConfig.responseLogprobs",
        )
    request.max_tokens = config.maxOutputTokens
    request.temperature = config.temperature
    request.top_p = config.topP
    request.top_k = config.topK
    request.stop = list(config.stopSequences or [])
    request.seed = config.seed
    request.presence_penalty = config.presencePenalty
    request.frequency_penalty = config.frequencyPenalty
    request.response_format = _decode_format(config)
    if config.thinkingConfig is not None:
        request.reasoning = _decode_thinking(config.thinkingConfig)


def _decode_format(config: wire.GenerationConfig) -> ir.ResponseFormat | None:
    if config.responseMimeType != "application/json":
        return None
    schema = config.responseJsonSchema
    if schema is None and config.responseSchema is not None:
        schema = openapi_to_json_schema(config.responseSchema)
    if schema is None:
        return ir.ResponseFormat(type="json_object")
    return ir.ResponseFormat(type="json_schema", name="response", schema=schema)


def _decode_thinking(config: wire.ThinkingConfig) -> ir.Reasoning:
    summary = "auto" if config.includeThoughts else None
    budget = config.thinkingBudget
    if budget == 0:
        return ir.Reasoning(effort="none", budget_tokens=0, enabled=False)
    if budget is not None and budget > 0:
        return ir.Reasoning(
            effort=common.effort_for_budget(budget), budget_tokens=budget, summary=summary
        )
    if config.thinkingLevel is not None:
        effort = _LEVELS.get(config.thinkingLevel.upper())
        if effort is None:
            raise BadRequest(f"unknown thinkingLevel {config.thinkingLevel!r}")
        return ir.Reasoning(effort=effort, summary=summary)
    return ir.Reasoning(summary=summary)


# --- encode (provider side) ------------------------------------------------------------------


def encode_request(request: ir.Request) -> dict[str, Any]:
    """Build the generateContent body for an upstream; the model goes in the URL."""
    contents, hoisted = _encode_messages(request.messages)
    if not contents:
        raise BadRequest("the request has no content Gemini can take")
    if "gemini-3" in request.model:
        _sign_foreign_calls(contents)
    body = wire.GenerateContentRequest(contents=contents)
    system = [block.text for block in request.system if block.text] + hoisted
    if system:
        body.systemInstruction = wire.Content(parts=[wire.Part(text=text) for text in system])
    if request.tools:
        body.tools = _encode_tools(request.tools)
        body.toolConfig = _encode_tool_choice(request.tool_choice)
    generation = _encode_generation(request)
    if generation != wire.GenerationConfig():
        body.generationConfig = generation
    encoded: dict[str, Any] = msgspec.to_builtins(body)
    return encoded


def _encode_messages(messages: list[ir.Message]) -> tuple[list[wire.Content], list[str]]:
    names: dict[str, str] = {}
    contents: list[wire.Content] = []
    hoisted: list[str] = []
    for message in messages:
        if message.role == "system":
            # Gemini has no mid-conversation system role (protocols.md 6.2): hoist.
            hoisted += [b.text for b in message.content if isinstance(b, ir.TextBlock) and b.text]
            continue
        for block in message.content:
            if isinstance(block, ir.ToolCallBlock):
                names[block.id] = block.name
        parts = encode_parts(message.content, for_client=False, names=names)
        role = "model" if message.role == "assistant" else "user"
        if not parts:
            continue
        if contents and contents[-1].role == role:
            contents[-1].parts.extend(parts)
        else:
            contents.append(wire.Content(role=role, parts=parts))
    return contents, hoisted


def _sign_foreign_calls(contents: list[wire.Content]) -> None:
    for content in contents:
        calls = [part for part in content.parts if part.functionCall is not None]
        if content.role == "model" and calls and not any(p.thoughtSignature for p in calls):
            calls[0].thoughtSignature = DUMMY_SIGNATURE


def _strip_schema_meta(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strip_schema_meta(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    stripped: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            stripped[key] = {name: _strip_schema_meta(item) for name, item in value.items()}
        elif key not in _SCHEMA_META:
            stripped[key] = _strip_schema_meta(value)
    return stripped


def _encode_tools(tools: list[ir.Tool]) -> list[wire.Tool]:
    declarations: list[wire.FunctionDeclaration] = []
    encoded: list[wire.Tool] = []
    for tool in tools:
        if tool.kind == "function":
            schema = _strip_schema_meta(tool.parameters) if tool.parameters else None
            declarations.append(
                wire.FunctionDeclaration(
                    name=tool.name, description=tool.description, parametersJsonSchema=schema
                )
            )
        elif tool.kind in _HOSTED_OUT:
            encoded.append(msgspec.convert({_HOSTED_OUT[tool.kind]: {}}, wire.Tool))
        else:
            raise BadRequest(f"tool type {tool.kind!r} is not supported by Gemini")
    if declarations:
        encoded.insert(0, wire.Tool(functionDeclarations=declarations))
    return encoded


def _encode_tool_choice(choice: ir.ToolChoice | None) -> wire.ToolConfig | None:
    if choice is None:
        return None
    match choice.mode:
        case "auto":
            calling = wire.FunctionCallingConfig(mode="AUTO")
        case "none":
            calling = wire.FunctionCallingConfig(mode="NONE")
        case "required":
            calling = wire.FunctionCallingConfig(mode="ANY")
        case "tool":
            names = [choice.name] if choice.name else None
            calling = wire.FunctionCallingConfig(mode="ANY", allowedFunctionNames=names)
    return wire.ToolConfig(functionCallingConfig=calling)


def _clamp(value: float | None, low: float, high: float) -> float | None:
    return None if value is None else min(max(value, low), high)


def _encode_generation(request: ir.Request) -> wire.GenerationConfig:
    config = wire.GenerationConfig(
        maxOutputTokens=request.max_tokens,
        temperature=_clamp(request.temperature, 0.0, 2.0),
        topP=_clamp(request.top_p, 0.0, 1.0),
        topK=request.top_k if request.top_k is not None and request.top_k >= 1 else None,
        stopSequences=request.stop[:MAX_STOP_SEQUENCES] or None,
        seed=request.seed,
        presencePenalty=request.presence_penalty,
        frequencyPenalty=request.frequency_penalty,
        thinkingConfig=_encode_thinking(request.reasoning, request.model),
    )
    response_format = request.response_format
    if response_format is not None and response_format.type != "text":
        config.responseMimeType = "application/json"
        if response_format.type == "json_schema" and response_format.schema is not None:
            config.responseJsonSchema = _strip_schema_meta(response_format.schema)
    return config


def _thinking_level(effort: ir.Effort, *, pro: bool) -> str:
    match effort:
        case "none" | "minimal":
            return "LOW" if pro else "MINIMAL"
        case "low":
            return "LOW"
        case "medium":
            return "HIGH" if pro else "MEDIUM"
        case _:
            return "HIGH"


def _encode_thinking(reasoning: ir.Reasoning | None, model: str) -> wire.ThinkingConfig | None:
    # protocols.md 6.10: Gemini 3 takes thinkingLevel, earlier models thinkingBudget, never both.
    if reasoning is None:
        return None
    budget = reasoning.budget_tokens
    if budget is not None:
        off = budget <= 0
        effort: ir.Effort | None = common.effort_for_budget(budget)
    else:
        off = not reasoning.enabled or reasoning.effort == "none"
        effort = reasoning.effort
    pro = "pro" in model
    if "gemini-3" in model:
        if off:
            return wire.ThinkingConfig(thinkingLevel=_thinking_level("none", pro=pro))
        level = _thinking_level(effort, pro=pro) if effort is not None else None
        return wire.ThinkingConfig(thinkingLevel=level, includeThoughts=True)
    if off:
        return wire.ThinkingConfig(thinkingBudget=128 if pro else 0)
    budget = common.budget_for(reasoning.effort, budget)
    return wire.ThinkingConfig(thinkingBudget=budget, includeThoughts=True)
