"""One driver per client API, built on its official SDK, with a protocol-neutral result.

Each driver sends an `Ask` the way a user of that SDK would, streamed (through the SDK's stream
helper) or not, and can echo the assistant turn back with tool results, as an agent loop does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types as gtypes

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "City name"}},
        "required": ["location"],
    },
}
TIME_TOOL = {
    "name": "get_time",
    "description": "Get the local time in a timezone.",
    "parameters": {
        "type": "object",
        "properties": {"timezone": {"type": "string"}},
        "required": ["timezone"],
    },
}
PIXEL_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


@dataclass
class Ask:
    """What a test asks for, whatever the client API."""

    prompt: str = "Say hello."
    system: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    image: bool = False
    schema: bool = False
    reasoning: bool = False
    max_tokens: int = 4096


@dataclass
class Result:
    """What the client got, read the same way for every API."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    stop: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    echo: Any = None  # the assistant turn in the client's own format, to send back


class Driver:
    """The common surface of the four drivers."""

    api = ""

    def __init__(self, base_url: str, model: str) -> None:
        self.base_url = base_url
        self.model = model
        self.history: list[Any] = []

    async def ask(self, ask: Ask, stream: bool) -> Result:
        """Send the first turn."""
        raise NotImplementedError

    async def answer_tools(
        self, ask: Ask, first: Result, outputs: list[str], stream: bool
    ) -> Result:
        """Send the assistant turn back with one output per tool call."""
        raise NotImplementedError


# --- chat completions ------------------------------------------------------------------------


class ChatDriver(Driver):
    api = "chat"

    def _client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base_url + "/v1", api_key="gw", max_retries=0)

    def _params(self, ask: Ask) -> dict[str, Any]:
        content: Any = ask.prompt
        if ask.image:
            content = [
                {"type": "text", "text": ask.prompt},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL_PNG}"}},
            ]
        messages: list[dict[str, Any]] = []
        if ask.system:
            messages.append({"role": "system", "content": ask.system})
        messages.append({"role": "user", "content": content})
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_completion_tokens": ask.max_tokens,
        }
        if ask.tools:
            params["tools"] = [{"type": "function", "function": t} for t in ask.tools]
        if ask.schema:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA, "strict": True},
            }
        if ask.reasoning:
            params["reasoning_effort"] = "low"
        return params

    async def _send(self, params: dict[str, Any], stream: bool) -> Result:
        client = self._client()
        if stream:
            params["stream_options"] = {"include_usage": True}
            async with client.chat.completions.stream(**params) as events:
                completion = await events.get_final_completion()
        else:
            completion = await client.chat.completions.create(**params)
        choice = completion.choices[0]
        message = choice.message
        extra = message.model_extra or {}
        calls = [
            (c.id, c.function.name, json.loads(c.function.arguments or "{}"))
            for c in message.tool_calls or []
            if c.type == "function"
        ]
        usage = completion.usage
        return Result(
            text=message.content or "",
            reasoning=str(extra.get("reasoning_content") or ""),
            tool_calls=calls,
            stop=choice.finish_reason,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            echo=message.model_dump(exclude_none=True, exclude_unset=True),
        )

    async def ask(self, ask: Ask, stream: bool) -> Result:
        return await self._send(self._params(ask), stream)

    async def answer_tools(
        self, ask: Ask, first: Result, outputs: list[str], stream: bool
    ) -> Result:
        params = self._params(ask)
        echo = {k: v for k, v in first.echo.items() if k not in ("parsed", "refusal")}
        for call in echo.get("tool_calls", []):
            call.pop("parsed_arguments", None)
            call["function"].pop("parsed_arguments", None)
        params["messages"].append(echo)
        for (call_id, _, _), output in zip(first.tool_calls, outputs, strict=True):
            params["messages"].append({"role": "tool", "tool_call_id": call_id, "content": output})
        return await self._send(params, stream)


# --- anthropic messages ----------------------------------------------------------------------


class MessagesDriver(Driver):
    api = "messages"

    def _params(self, ask: Ask) -> dict[str, Any]:
        content: Any = ask.prompt
        if ask.image:
            content = [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PIXEL_PNG},
                },
                {"type": "text", "text": ask.prompt},
            ]
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": ask.max_tokens,
            "messages": [{"role": "user", "content": content}],
        }
        if ask.system:
            params["system"] = ask.system
        if ask.tools:
            params["tools"] = [
                {
                    "name": t["name"],
                    "description": t["description"],
                    "input_schema": t["parameters"],
                }
                for t in ask.tools
            ]
        if ask.schema:
            params["output_config"] = {"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}}
        if ask.reasoning:
            params["thinking"] = {"type": "enabled", "budget_tokens": 2048}
        return params

    async def _send(self, params: dict[str, Any], stream: bool) -> Result:
        client = anthropic.AsyncAnthropic(base_url=self.base_url, api_key="gw", max_retries=0)
        extra = {k: params.pop(k) for k in ("output_config",) if k in params}
        if stream:
            async with client.messages.stream(**params, extra_body=extra or None) as events:
                message = await events.get_final_message()
        else:
            message = await client.messages.create(**params, extra_body=extra or None)
        result = Result(
            stop=message.stop_reason or "",
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
            echo=[block.model_dump(exclude_none=True) for block in message.content],
        )
        for block in message.content:
            if block.type == "text":
                result.text += block.text
            elif block.type == "thinking":
                result.reasoning += block.thinking
            elif block.type == "tool_use":
                result.tool_calls.append((block.id, block.name, dict(block.input)))
        params.update(extra)
        return result

    async def ask(self, ask: Ask, stream: bool) -> Result:
        return await self._send(self._params(ask), stream)

    async def answer_tools(
        self, ask: Ask, first: Result, outputs: list[str], stream: bool
    ) -> Result:
        params = self._params(ask)
        params["messages"].append({"role": "assistant", "content": first.echo})
        results = [
            {"type": "tool_result", "tool_use_id": call_id, "content": output}
            for (call_id, _, _), output in zip(first.tool_calls, outputs, strict=True)
        ]
        params["messages"].append({"role": "user", "content": results})
        return await self._send(params, stream)


# --- openai responses ------------------------------------------------------------------------


class ResponsesDriver(Driver):
    api = "responses"

    def _params(self, ask: Ask) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"type": "input_text", "text": ask.prompt}]
        if ask.image:
            content.append(
                {"type": "input_image", "image_url": f"data:image/png;base64,{PIXEL_PNG}"}
            )
        params: dict[str, Any] = {
            "model": self.model,
            "input": [{"role": "user", "content": content}],
            "max_output_tokens": ask.max_tokens,
        }
        if ask.system:
            params["instructions"] = ask.system
        if ask.tools:
            params["tools"] = [{"type": "function", **t, "strict": False} for t in ask.tools]
        if ask.schema:
            params["text"] = {
                "format": {
                    "type": "json_schema",
                    "name": "answer",
                    "schema": ANSWER_SCHEMA,
                    "strict": True,
                }
            }
        if ask.reasoning:
            params["reasoning"] = {"effort": "low", "summary": "auto"}
            params["include"] = ["reasoning.encrypted_content"]
            params["store"] = False
        return params

    async def _send(self, params: dict[str, Any], stream: bool) -> Result:
        client = openai.AsyncOpenAI(base_url=self.base_url + "/v1", api_key="gw", max_retries=0)
        if stream:
            async with client.responses.stream(**params) as events:
                response = await events.get_final_response()
        else:
            response = await client.responses.create(**params)
        result = Result(
            text=response.output_text,
            stop=response.status or "",
            input_tokens=response.usage.input_tokens if response.usage else 0,
            output_tokens=response.usage.output_tokens if response.usage else 0,
            echo=[item.model_dump(exclude_none=True) for item in response.output],
        )
        for item in response.output:
            if item.type == "function_call":
                result.tool_calls.append((item.call_id, item.name, json.loads(item.arguments)))
            elif item.type == "reasoning":
                result.reasoning += "".join(part.text for part in item.summary)
        if result.tool_calls and response.status == "completed":
            result.stop = "tool_use"
        return result

    async def ask(self, ask: Ask, stream: bool) -> Result:
        return await self._send(self._params(ask), stream)

    async def answer_tools(
        self, ask: Ask, first: Result, outputs: list[str], stream: bool
    ) -> Result:
        params = self._params(ask)
        for item in first.echo:
            item.pop("status", None) if item.get("type") == "reasoning" else None
        params["input"].extend(first.echo)
        for (call_id, _, _), output in zip(first.tool_calls, outputs, strict=True):
            params["input"].append(
                {"type": "function_call_output", "call_id": call_id, "output": output}
            )
        return await self._send(params, stream)


# --- gemini ----------------------------------------------------------------------------------


class GeminiDriver(Driver):
    api = "gemini"

    def _client(self) -> genai.Client:
        options = gtypes.HttpOptions(base_url=self.base_url, api_version="v1beta")
        return genai.Client(api_key="gw", http_options=options)

    def _contents(self, ask: Ask) -> list[gtypes.Content]:
        parts = [gtypes.Part(text=ask.prompt)]
        if ask.image:
            import base64

            parts.append(
                gtypes.Part(
                    inline_data=gtypes.Blob(mime_type="image/png", data=base64.b64decode(PIXEL_PNG))
                )
            )
        return [gtypes.Content(role="user", parts=parts)]

    def _config(self, ask: Ask) -> gtypes.GenerateContentConfig:
        config = gtypes.GenerateContentConfig(max_output_tokens=ask.max_tokens)
        if ask.system:
            config.system_instruction = ask.system
        if ask.tools:
            declarations = [
                gtypes.FunctionDeclaration(
                    name=t["name"],
                    description=t["description"],
                    parameters_json_schema=t["parameters"],
                )
                for t in ask.tools
            ]
            config.tools = [gtypes.Tool(function_declarations=declarations)]
        if ask.schema:
            config.response_mime_type = "application/json"
            config.response_json_schema = ANSWER_SCHEMA
        if ask.reasoning:
            config.thinking_config = gtypes.ThinkingConfig(
                include_thoughts=True, thinking_budget=2048
            )
        return config

    async def _send(self, contents: list[gtypes.Content], ask: Ask, stream: bool) -> Result:
        client = self._client()
        config = self._config(ask)
        result = Result()
        parts: list[gtypes.Part] = []
        if stream:
            chunks = await client.aio.models.generate_content_stream(
                model=self.model, contents=contents, config=config
            )
            responses = [chunk async for chunk in chunks]
        else:
            responses = [
                await client.aio.models.generate_content(
                    model=self.model, contents=contents, config=config
                )
            ]
        for response in responses:
            if response.usage_metadata is not None:
                usage = response.usage_metadata
                result.input_tokens = usage.prompt_token_count or 0
                result.output_tokens = (usage.candidates_token_count or 0) + (
                    usage.thoughts_token_count or 0
                )
            if not response.candidates:
                continue
            candidate = response.candidates[0]
            if candidate.finish_reason is not None:
                result.stop = candidate.finish_reason.value
            for part in (candidate.content.parts if candidate.content else None) or []:
                parts.append(part)
                if part.thought and part.text:
                    result.reasoning += part.text
                elif part.text:
                    result.text += part.text
                if part.function_call is not None:
                    call = part.function_call
                    result.tool_calls.append(
                        (call.id or "", call.name or "", dict(call.args or {}))
                    )
        if result.tool_calls and result.stop == "STOP":
            result.stop = "tool_use"
        result.echo = gtypes.Content(role="model", parts=parts)
        return result

    async def ask(self, ask: Ask, stream: bool) -> Result:
        return await self._send(self._contents(ask), ask, stream)

    async def answer_tools(
        self, ask: Ask, first: Result, outputs: list[str], stream: bool
    ) -> Result:
        contents = self._contents(ask)
        contents.append(first.echo)
        responses = [
            gtypes.Part(
                function_response=gtypes.FunctionResponse(
                    id=call_id or None, name=name, response={"output": output}
                )
            )
            for (call_id, name, _), output in zip(first.tool_calls, outputs, strict=True)
        ]
        contents.append(gtypes.Content(role="user", parts=responses))
        return await self._send(contents, ask, stream)


DRIVERS: dict[str, type[Driver]] = {
    "chat": ChatDriver,
    "messages": MessagesDriver,
    "responses": ResponsesDriver,
    "gemini": GeminiDriver,
}
