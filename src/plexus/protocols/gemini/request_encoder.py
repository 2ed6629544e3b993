"""IR request → the Gemini generateContent body for an upstream (protocols.md 4.2–4.6)."""

from __future__ import annotations

from typing import Any

import msgspec

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import common
from plexus.protocols.counting import gemini_count_request
from plexus.protocols.gemini import wire
from plexus.protocols.gemini.parts import encode_parts
from plexus.protocols.server_tools import is_code_execution

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
        elif is_code_execution(tool.kind):  # Anthropic's dated versions
            encoded.append(wire.Tool(codeExecution={}))
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


def encode_count_request(request: ir.Request) -> dict[str, Any] | None:
    """IR → the body of `models/{model}:countTokens`."""
    return gemini_count_request(encode_request(request), request.model)
