"""What the client-library e2e tests share: a content-driven mock model and a threaded backend.

The mock model decides each answer from the request it answers, never from per-test state, so
one set of mocks and one gateway serve a whole module (and a batch of Node runs at once):
- a request that carries tool results gets `final_text(results)`, which quotes them, so the
  answer a library returns proves that its tool ran and its output came back;
- a request that offers the weather tool gets a call of it;
- a request that asks for the answer schema gets JSON of it;
- anything else gets `PLAIN_TEXT`.
A request that turns reasoning on gets reasoning and a signature with each answer; the Gemini 3
model always signs its calls, as the real one does, and its mock requires a signature back on
the call. The strict Messages mock checks the signature of each thinking block it gets but not
that the block is there: the mock model answers, as the real API does, a 400 to a thinking-on
request whose last assistant turn calls tools without starting with its thinking block.

The backend runs the mocks and the gateway on an event loop of their own in a thread, so
libraries with a synchronous API (LangChain's `invoke`, `litellm.completion`) can call them.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Coroutine, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from plexus.app import Gateway
from tests.conftest import API_TYPES, Upstreams
from tests.e2e.harness import (
    Exchange,
    RecordingGateway,
    ScriptedState,
    scripted_upstreams,
    serve,
)
from tests.e2e.harness import tool_results as harness_tool_results
from tests.mocks.base import Received, Reply, ToolCall

T = TypeVar("T")

PLAIN_PROMPT = "Say hello."
PLAIN_TEXT = "Hello from the mock upstream, through Plexus."
AGAIN_PROMPT = "Say it again."  # the second turn of a conversation whose first was PLAIN_PROMPT
TOOL_PROMPT = "What is the weather in Paris? Use the tool."
TOOL_NAME = "get_weather"
TOOL_DESCRIPTION = "Get the current weather for a city."
TOOL_CITY = "Paris"
REASONING = "The user wants the weather; I should call get_weather."
SIGNATURE = "U2lnbmVkVGhpbmtpbmdGcm9tVGhlTW9jaw=="  # base64, as every provider's tokens are
SCHEMA_PROMPT = "Which city is the capital of France? Answer in the schema."
SCHEMA_ANSWER = {"city": "Paris", "country": "France"}
# The Gemini 3 alias: its mock checks the thought signature on every model turn's first call.
GEMINI3 = "gemini3-model"


def weather(city: str) -> str:
    """What the libraries' weather tool returns: text the model cannot guess from its call."""
    return f"{city.upper()}-SUNNY-{len(city) * 7}C"


TOOL_OUTPUT = weather(TOOL_CITY)  # PARIS-SUNNY-35C


def final_text(results: list[str]) -> str:
    """The mock model's answer once the tool results came back; quotes them."""
    return "Tool said: " + " | ".join(results)


FINAL_TEXT = final_text([TOOL_OUTPUT])  # what a library must print when it sent back one result


def tool_results(api: str, body: dict[str, Any]) -> list[str]:
    """The tool result texts in an upstream request, unwrapped from JSON and the wrappers that
    libraries put around them (`{"output": ...}`, `{"result": ...}`, content parts)."""
    found: list[str] = []
    for raw in harness_tool_results(api, body):
        found.append(_unwrap(json.loads(raw)))
    return found


def _unwrap(value: Any) -> str:
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return value if isinstance(decoded, str | int | float) else _unwrap(decoded)
    if isinstance(value, dict):
        for key in ("output", "result", "content", "text", "return_value"):
            if key in value:
                return _unwrap(value[key])
    if isinstance(value, list):
        return "".join(_unwrap(item) for item in value)
    return json.dumps(value)


def _field(obj: dict[str, Any], name: str) -> Any:
    """A Gemini field by its camelCase name or its snake_case spelling (the API takes both)."""
    if name in obj:
        return obj[name]
    return obj.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name))


def reasoning_requested(api: str, body: dict[str, Any]) -> bool:
    """Whether an upstream request turns reasoning on, in its provider's terms."""
    match api:
        case "chat":
            return body.get("reasoning_effort") not in (None, "none")
        case "messages":
            return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
        case "responses":
            return (body.get("reasoning") or {}).get("effort") not in (None, "none")
        case _:
            config = _field(body, "generationConfig") or {}
            thinking = _field(config, "thinkingConfig") or {}
            return bool(_field(thinking, "includeThoughts"))


def requested_schema(api: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema an upstream request asks the answer to follow, if any."""
    schema: Any = None
    match api:
        case "chat":
            schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
        case "messages":
            schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
        case "responses":
            schema = ((body.get("text") or {}).get("format") or {}).get("schema")
        case _:
            config = _field(body, "generationConfig") or {}
            schema = _field(config, "responseJsonSchema") or _field(config, "responseSchema")
    return schema if isinstance(schema, dict) else None


def signature_came_back(api: str, body: dict[str, Any]) -> bool:
    """Whether the provider (messages or gemini) got its own reasoning token back, untouched,
    where it wants it: on the thinking block that starts the last assistant turn, or on the
    first functionCall part of the last model turn."""
    if api == "messages":
        turns = [m for m in body["messages"] if m["role"] == "assistant"]
        content = turns[-1]["content"] if turns else []
        first = content[0] if isinstance(content, list) and content else {}
        return first.get("type") == "thinking" and first.get("signature") == SIGNATURE
    turns = [c for c in body["contents"] if c.get("role") == "model"]
    calls = [p for p in (turns[-1]["parts"] if turns else []) if "functionCall" in p]
    return bool(calls) and calls[0].get("thoughtSignature") == SIGNATURE


def _messages_signature_problem(body: dict[str, Any]) -> str | None:
    """What the real Messages API answers when thinking is on and the last assistant turn that
    called tools does not start with its (signed) thinking block; the strict mock checks
    signatures on the blocks it gets but not that the block is there."""
    if (body.get("thinking") or {}).get("type") not in ("enabled", "adaptive"):
        return None
    messages = body.get("messages") or []
    turns = [(i, m) for i, m in enumerate(messages) if m.get("role") == "assistant"]
    if not turns:
        return None
    position, last = turns[-1]
    content = last.get("content")
    blocks = content if isinstance(content, list) else [{"type": "text"}]
    if not any(block.get("type") == "tool_use" for block in blocks):
        return None
    first = blocks[0].get("type")
    if first in ("thinking", "redacted_thinking"):
        return None
    return (
        f"messages.{position}.content.0.type: Expected `thinking` or `redacted_thinking`, but "
        f"found `{first}`. When `thinking` is enabled, a final `assistant` message must start "
        "with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` "
        "blocks). We recommend you include thinking blocks from previous turns."
    )


@dataclass
class MockModel:
    """The content-driven answers of one provider type's mock (see the module docstring)."""

    api: str
    log: list[tuple[str, Received]] = field(default_factory=list)

    def __call__(self, received: Received) -> Reply:
        kind, reply = self._decide(received)
        self.log.append((kind, received))
        return reply

    def _decide(self, received: Received) -> tuple[str, Reply]:
        body = received.body
        if self.api == "messages":
            problem = _messages_signature_problem(body)
            if problem is not None:
                return "rejected", Reply(error_status=400, error_message=problem)
        model = received.path if self.api == "gemini" else str(body.get("model"))
        thinks = reasoning_requested(self.api, body)
        signs = thinks or "gemini-3" in model
        reply = Reply(
            text=PLAIN_TEXT,
            reasoning=REASONING if thinks else "",
            signature=SIGNATURE if signs else "",
        )
        results = tool_results(self.api, body)
        if results:
            return "final", replace(reply, text=final_text(results))
        if f'"{TOOL_NAME}"' in json.dumps(body.get("tools")):
            call = ToolCall(TOOL_NAME, {"city": TOOL_CITY})
            return "tool_call", replace(reply, text="", tool_calls=[call], stop="tool_use")
        if requested_schema(self.api, body) is not None:
            return "schema", replace(reply, text=json.dumps(SCHEMA_ANSWER))
        return "plain", reply


def mock_api(provider: str) -> str:
    """The mock that serves `provider` ("gemini3" is the Gemini mock under a Gemini 3 name)."""
    return "gemini" if provider == "gemini3" else provider


def upstream_model(name: str, provider: str) -> str:
    """The upstream model that the backend's alias `name` of `provider` names; a Gemini 3 one
    says so, since its mock checks signatures by that."""
    if provider == "gemini3":
        return "gemini-3-pro" if name == GEMINI3 else f"gemini-3-pro-{name}"
    return f"up-{name}"


class Backend:
    """The strict mocks and a recording gateway, served from a thread of their own."""

    def __init__(self, aliases: Mapping[str, str] | None = None) -> None:
        # More model names, each routed to a provider type's mock ("gemini3": the Gemini 3 one)
        # under an upstream name of its own, so that the requests of concurrent runs can be told
        # apart (`requests_of`).
        self.aliases = dict(aliases or {})
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.stack = AsyncExitStack()
        self.url = ""
        self.mocks = Upstreams()
        self.models = {api: MockModel(api) for api in API_TYPES}
        self.gateway: RecordingGateway | None = None

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run `coroutine` on the backend's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> None:
        self.thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        self.mocks = await self.stack.enter_async_context(scripted_upstreams())
        for api, model in self.models.items():
            state = self.mocks.states[api]
            assert isinstance(state, ScriptedState)
            state.responder = model
        models = {GEMINI3: "gemini3"} | self.aliases
        extra = {
            "models": {
                name: {
                    "targets": [
                        {
                            "provider": f"mock-{mock_api(provider)}",
                            "model": upstream_model(name, provider),
                        }
                    ]
                }
                for name, provider in models.items()
            }
        }
        self.gateway = RecordingGateway(Gateway(self.mocks.config(extra)))
        self.url = await self.stack.enter_async_context(serve(self.gateway))

    def stop(self) -> None:
        try:
            self.run(self.stack.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def requests_of(self, name: str) -> tuple[list[Received], list[tuple[str, Received]]]:
        """The upstream requests made for the model `name`, and those the mock answered."""
        provider = self.aliases[name]
        api = mock_api(provider)
        upstream = upstream_model(name, provider)

        def mine(received: Received) -> bool:
            if api == "gemini":
                return received.path.endswith(f"/{upstream}:generateContent") or (
                    received.path.endswith(f"/{upstream}:streamGenerateContent")
                )
            return received.body.get("model") == upstream

        received = [r for r in self.mocks.states[api].received if mine(r)]
        return received, [(kind, r) for kind, r in self.models[api].log if mine(r)]

    def trace_of(self, name: str) -> Trace:
        """What the mock saw of the model `name`, whenever it was; the gateway's answers are
        not told apart by model, so the problems are left to the client's own error."""
        received, answered = self.requests_of(name)
        api = mock_api(self.aliases[name])
        empty: dict[str, list[Any]] = {other: [] for other in API_TYPES}
        return Trace(
            problems=[],
            exchanges=[],
            received=empty | {api: received},
            answers=empty | {api: answered},
        )

    def mark(self) -> Mark:
        """Where every record stands now, to look at what one test added."""
        assert self.gateway is not None
        return Mark(
            exchanges=len(self.gateway.exchanges),
            received={api: len(self.mocks.states[api].received) for api in API_TYPES},
            logs={api: len(model.log) for api, model in self.models.items()},
        )

    def since(self, mark: Mark) -> Trace:
        """What happened since `mark`: gateway exchanges, upstream requests and answers."""
        assert self.gateway is not None
        return Trace(
            problems=[
                problem
                for exchange in self.gateway.exchanges[mark.exchanges :]
                for problem in exchange.problems()
            ],
            exchanges=self.gateway.exchanges[mark.exchanges :],
            received={
                api: self.mocks.states[api].received[mark.received[api] :] for api in API_TYPES
            },
            answers={api: model.log[mark.logs[api] :] for api, model in self.models.items()},
        )


@dataclass
class Mark:
    exchanges: int
    received: dict[str, int]
    logs: dict[str, int]


@dataclass
class Trace:
    """What the gateway and the mocks saw during one test."""

    problems: list[str]
    exchanges: list[Exchange]
    received: dict[str, list[Received]]
    answers: dict[str, list[tuple[str, Received]]]

    def kinds(self, api: str) -> list[str]:
        """How the mock of `api` answered each request, in order."""
        return [kind for kind, _ in self.answers[api]]

    def describe(self) -> str:
        """Everything needed to see why a test failed."""
        lines = ["--- gateway problems", *self.problems, "--- upstream requests"]
        for api in API_TYPES:
            for kind, received in self.answers[api]:
                lines.append(f"{api} [{kind}]: {received.path} {json.dumps(received.body)[:1500]}")
        return "\n".join(lines)

    def check(self, provider: str, kinds: list[str]) -> None:
        """The provider's mock answered `kinds` in order, accepted every request (a request the
        strict mock rejects never reaches the model), the gateway answered no error, and no
        other provider was called."""
        details = self.describe()
        assert self.kinds(provider) == kinds, details
        assert len(self.received[provider]) == len(kinds), "a mock rejected a request\n" + details
        others = [api for api in API_TYPES if api != provider and self.received[api]]
        assert not others, details
        assert not self.problems, details
