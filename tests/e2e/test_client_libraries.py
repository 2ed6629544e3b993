"""The Python libraries LLM applications are built on, through Plexus to every provider type.

LangChain (ChatOpenAI, ChatAnthropic, ChatGoogleGenerativeAI), pydantic-ai (its OpenAI,
Anthropic and Google models), the OpenAI Agents SDK (Responses, and its Chat Completions model),
litellm as a client library (`openai/` and `anthropic/` models) and the `llm` CLI, each pointed
at the gateway the way its documentation says to point it at a compatible server, run against
every provider type's strict mock:
- plain: one call, not streamed;
- stream: one streamed call (the upstream request asks for a stream too);
- tools: a tool round trip: the model asks for the weather tool, the library (or the
  application loop it documents) runs it and sends the result back, and the final answer
  quotes the tool's output;
- history: a second turn after the first answer, which must reach the provider as history;
- reasoning: the tool round trip with reasoning on, against the providers that need their
  reasoning token back on the next turn (Anthropic's signed thinking, Gemini 3's thought
  signature), which must come back untouched.

One backend (mocks and gateway, tests/e2e/libraries.py) serves the whole module; each test
checks what the library returned and what the mock and the gateway saw during that test. The
llm CLI, a process per call, runs all its cases at once before its tests look at them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from tests.e2e.harness import base_env, execute
from tests.e2e.libraries import (
    AGAIN_PROMPT,
    FINAL_TEXT,
    GEMINI3,
    PLAIN_PROMPT,
    PLAIN_TEXT,
    SCHEMA_ANSWER,
    SCHEMA_PROMPT,
    TOOL_DESCRIPTION,
    TOOL_NAME,
    TOOL_OUTPUT,
    TOOL_PROMPT,
    Backend,
    Trace,
    mock_api,
    reasoning_requested,
    signature_came_back,
    weather,
)

# litellm reads its model price map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# One event loop for the module: some libraries keep a default HTTP client per process, bound to
# the loop of their first call.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(60),
    pytest.mark.asyncio(loop_scope="module"),
    # litellm's own types warn as pydantic builds and dumps them, whatever the answer.
    pytest.mark.filterwarnings("ignore:Item '\\w+' on TypedDict class:UserWarning"),
    pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning"),
]

PROVIDERS = ("chat", "messages", "responses", "gemini")
SCENARIOS = ("plain", "stream", "tools", "history", "reasoning")
# The providers that need their reasoning token back on the turn after a tool call.
SIGNING = ("messages", "gemini3")
WEATHER_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
}
OPENAI_TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "parameters": WEATHER_PARAMETERS,
    },
}


def alias(provider: str) -> str:
    """The gateway model name that routes to `provider`'s mock."""
    return GEMINI3 if provider == "gemini3" else f"{provider}-model"


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return weather(city)


class Library:
    """How one library makes the three calls; each returns the answer's text."""

    name = ""

    def __init__(self, backend: Backend, tmp_path: Path) -> None:
        self.url = backend.url
        self.tmp_path = tmp_path

    async def plain(self, model: str) -> str:
        raise NotImplementedError

    async def stream(self, model: str) -> str:
        raise NotImplementedError

    async def tools(self, model: str, reasoning: bool) -> str:
        raise NotImplementedError

    async def history(self, model: str) -> str:
        """Two turns of one conversation: PLAIN_PROMPT, then AGAIN_PROMPT after its answer."""
        raise NotImplementedError


# --- LangChain ---------------------------------------------------------------------------------


class LangChain(Library):
    """A LangChain chat model: `ainvoke`, `astream`, and `bind_tools` with the loop an
    application writes (the tool runs through `BaseTool.ainvoke` on the model's tool call)."""

    def chat_model(self, model: str, reasoning: bool) -> Any:
        raise NotImplementedError

    async def plain(self, model: str) -> str:
        answer = await self.chat_model(model, False).ainvoke(PLAIN_PROMPT)
        return str(answer.text)

    async def stream(self, model: str) -> str:
        chunks = [chunk.text async for chunk in self.chat_model(model, False).astream(PLAIN_PROMPT)]
        return "".join(chunks)

    async def history(self, model: str) -> str:
        from langchain_core.messages import BaseMessage, HumanMessage

        chat_model = self.chat_model(model, False)
        messages: list[BaseMessage] = [HumanMessage(PLAIN_PROMPT)]
        messages.append(await chat_model.ainvoke(messages))
        messages.append(HumanMessage(AGAIN_PROMPT))
        answer = await chat_model.ainvoke(messages)
        return str(answer.text)

    async def tools(self, model: str, reasoning: bool) -> str:
        from langchain_core.messages import BaseMessage, HumanMessage
        from langchain_core.tools import tool

        weather_tool = tool(get_weather)
        bound = self.chat_model(model, reasoning).bind_tools([weather_tool])
        messages: list[BaseMessage] = [HumanMessage(TOOL_PROMPT)]
        for _ in range(3):
            answer = await bound.ainvoke(messages)
            messages.append(answer)
            if not answer.tool_calls:
                return str(answer.text)
            for call in answer.tool_calls:
                messages.append(await weather_tool.ainvoke(call))
        raise AssertionError(f"no final answer after 3 turns: {messages}")


class LangChainOpenAI(LangChain):
    name = "langchain-openai"

    def chat_model(self, model: str, reasoning: bool) -> Any:
        from langchain_openai import ChatOpenAI

        extra: dict[str, Any] = {"reasoning_effort": "low"} if reasoning else {}
        return ChatOpenAI(
            model=model,
            base_url=self.url + "/v1",
            api_key=SecretStr("plexus-key"),
            max_retries=0,
            **extra,
        )

    async def structured(self, model: str) -> dict[str, Any]:
        from pydantic import BaseModel, ConfigDict

        class Capital(BaseModel):
            model_config = ConfigDict(extra="forbid")
            city: str
            country: str

        structured = self.chat_model(model, False).with_structured_output(
            Capital, method="json_schema", strict=True
        )
        answer = await structured.ainvoke(SCHEMA_PROMPT)
        assert isinstance(answer, Capital), answer
        return answer.model_dump()


class LangChainAnthropic(LangChain):
    name = "langchain-anthropic"

    def chat_model(self, model: str, reasoning: bool) -> Any:
        from langchain_anthropic import ChatAnthropic

        extra: dict[str, Any] = {"max_tokens": 2048}
        if reasoning:
            extra["thinking"] = {"type": "enabled", "budget_tokens": 1024}
        return ChatAnthropic(
            model_name=model,
            base_url=self.url,
            api_key=SecretStr("plexus-key"),
            max_retries=0,
            timeout=30,
            stop=None,
            **extra,
        )


class LangChainGoogle(LangChain):
    name = "langchain-google-genai"
    # google-genai 3 addresses the Gemini API as /v1 unless told otherwise (both are served).
    api_version: str | None = "v1beta"

    def chat_model(self, model: str, reasoning: bool) -> Any:
        from langchain_google_genai import ChatGoogleGenerativeAI

        extra: dict[str, Any] = (
            {"include_thoughts": True, "thinking_budget": 1024} if reasoning else {}
        )
        if self.api_version is not None:
            extra["api_version"] = self.api_version
        return ChatGoogleGenerativeAI(
            model=model, base_url=self.url, google_api_key="plexus-key", retries=0, **extra
        )


# --- pydantic-ai -------------------------------------------------------------------------------


class PydanticAI(Library):
    """A pydantic-ai `Agent` on one of its models; the agent runs the tool loop itself."""

    def model(self, model: str, reasoning: bool) -> tuple[Any, Any]:
        """The model and its settings."""
        raise NotImplementedError

    def agent(self, model: str, reasoning: bool, tools: bool = False) -> Any:
        from pydantic_ai import Agent

        chat_model, settings = self.model(model, reasoning)
        return Agent(chat_model, model_settings=settings, tools=[get_weather] if tools else [])

    async def plain(self, model: str) -> str:
        result = await self.agent(model, False).run(PLAIN_PROMPT)
        return str(result.output)

    async def stream(self, model: str) -> str:
        async with self.agent(model, False).run_stream(PLAIN_PROMPT) as run:
            chunks = [chunk async for chunk in run.stream_text(delta=True)]
        return "".join(chunks)

    async def tools(self, model: str, reasoning: bool) -> str:
        result = await self.agent(model, reasoning, tools=True).run(TOOL_PROMPT)
        return str(result.output)

    async def history(self, model: str) -> str:
        agent = self.agent(model, False)
        first = await agent.run(PLAIN_PROMPT)
        second = await agent.run(AGAIN_PROMPT, message_history=first.all_messages())
        return str(second.output)


class PydanticAIOpenAI(PydanticAI):
    name = "pydantic-ai-openai"

    def model(self, model: str, reasoning: bool) -> tuple[Any, Any]:
        from pydantic_ai.models.openai import OpenAIChatModel, OpenAIChatModelSettings
        from pydantic_ai.providers.openai import OpenAIProvider

        provider = OpenAIProvider(base_url=self.url + "/v1", api_key="plexus-key")
        settings = OpenAIChatModelSettings(openai_reasoning_effort="low") if reasoning else None
        return OpenAIChatModel(model, provider=provider), settings


class PydanticAIAnthropic(PydanticAI):
    name = "pydantic-ai-anthropic"

    def model(self, model: str, reasoning: bool) -> tuple[Any, Any]:
        from pydantic_ai.models.anthropic import AnthropicModel, AnthropicModelSettings
        from pydantic_ai.providers.anthropic import AnthropicProvider

        provider = AnthropicProvider(base_url=self.url, api_key="plexus-key")
        settings = (
            AnthropicModelSettings(
                anthropic_thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=2048
            )
            if reasoning
            else None
        )
        return AnthropicModel(model, provider=provider), settings


class PydanticAIGoogle(PydanticAI):
    name = "pydantic-ai-google"
    default_api_version = False  # True: the provider's own client, on google-genai's default

    def model(self, model: str, reasoning: bool) -> tuple[Any, Any]:
        from google.genai import Client
        from google.genai.types import HttpOptions
        from pydantic_ai.models.google import GoogleModel, GoogleModelSettings
        from pydantic_ai.providers.google import GoogleProvider

        if self.default_api_version:
            provider = GoogleProvider(base_url=self.url, api_key="plexus-key")
        else:
            options = HttpOptions(base_url=self.url, api_version="v1beta")
            provider = GoogleProvider(client=Client(api_key="plexus-key", http_options=options))
        settings = (
            GoogleModelSettings(
                google_thinking_config={"include_thoughts": True, "thinking_budget": 1024}
            )
            if reasoning
            else None
        )
        return GoogleModel(model, provider=provider), settings


# --- the OpenAI Agents SDK ---------------------------------------------------------------------


class OpenAIAgents(Library):
    """An Agents SDK `Agent` with a function tool, run by `Runner`; tracing is off, so nothing
    is exported. Its default model speaks the Responses API."""

    name = "openai-agents"
    chat_completions = False

    def agent(self, model: str, reasoning: bool, tools: bool = False) -> Any:
        from agents import (
            Agent,
            ModelSettings,
            OpenAIChatCompletionsModel,
            OpenAIResponsesModel,
            function_tool,
            set_tracing_disabled,
        )
        from openai import AsyncOpenAI
        from openai.types.shared import Reasoning

        set_tracing_disabled(True)
        client = AsyncOpenAI(base_url=self.url + "/v1", api_key="plexus-key", max_retries=0)
        kind = OpenAIChatCompletionsModel if self.chat_completions else OpenAIResponsesModel
        settings = ModelSettings(
            reasoning=Reasoning(effort="low", summary="auto") if reasoning else None
        )
        return Agent(
            name="weather",
            instructions="Answer briefly.",
            model=kind(model, client),
            model_settings=settings,
            tools=[function_tool(get_weather)] if tools else [],
        )

    async def plain(self, model: str) -> str:
        from agents import Runner

        result = await Runner.run(self.agent(model, False), PLAIN_PROMPT)
        return str(result.final_output)

    async def stream(self, model: str) -> str:
        from agents import Runner
        from openai.types.responses import ResponseTextDeltaEvent

        run = Runner.run_streamed(self.agent(model, False), PLAIN_PROMPT)
        deltas = [
            event.data.delta
            async for event in run.stream_events()
            if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent)
        ]
        assert "".join(deltas) == run.final_output, (deltas, run.final_output)
        return "".join(deltas)

    async def tools(self, model: str, reasoning: bool) -> str:
        from agents import Runner

        result = await Runner.run(self.agent(model, reasoning, tools=True), TOOL_PROMPT)
        return str(result.final_output)

    async def history(self, model: str) -> str:
        from agents import Runner

        agent = self.agent(model, False)
        first = await Runner.run(agent, PLAIN_PROMPT)
        turns = [*first.to_input_list(), {"role": "user", "content": AGAIN_PROMPT}]
        second = await Runner.run(agent, turns)  # type: ignore[arg-type]
        return str(second.final_output)


class OpenAIAgentsChat(OpenAIAgents):
    name = "openai-agents-chat"
    chat_completions = True


# --- litellm (the client library, not its proxy) ---------------------------------------------


class LiteLLM(Library):
    """`litellm.completion` (plain) and `acompletion` (stream, tools) with `api_base` at the
    gateway, under one of litellm's provider prefixes."""

    prefix = ""

    def params(self, model: str, reasoning: bool) -> dict[str, Any]:
        raise NotImplementedError

    async def plain(self, model: str) -> str:
        import asyncio

        import litellm

        messages = [{"role": "user", "content": PLAIN_PROMPT}]
        answer = await asyncio.to_thread(
            litellm.completion, messages=messages, **self.params(model, False)
        )
        return str(answer.choices[0].message.content)

    async def stream(self, model: str) -> str:
        import litellm

        messages = [{"role": "user", "content": PLAIN_PROMPT}]
        chunks = await litellm.acompletion(
            messages=messages, stream=True, **self.params(model, False)
        )
        return "".join([chunk.choices[0].delta.content or "" async for chunk in chunks])

    async def history(self, model: str) -> str:
        import litellm

        params = self.params(model, False)
        messages: list[Any] = [{"role": "user", "content": PLAIN_PROMPT}]
        first = await litellm.acompletion(messages=messages, **params)
        messages += [first.choices[0].message, {"role": "user", "content": AGAIN_PROMPT}]
        second = await litellm.acompletion(messages=messages, **params)
        return str(second.choices[0].message.content)

    async def tools(self, model: str, reasoning: bool) -> str:
        import litellm

        params = self.params(model, reasoning)
        messages: list[Any] = [{"role": "user", "content": TOOL_PROMPT}]
        for _ in range(3):
            answer = await litellm.acompletion(messages=messages, tools=[OPENAI_TOOL], **params)
            message = answer.choices[0].message
            messages.append(message)  # as litellm's documentation appends it
            if not message.tool_calls:
                return str(message.content)
            for call in message.tool_calls:
                output = get_weather(**json.loads(call.function.arguments))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
        raise AssertionError(f"no final answer after 3 turns: {messages}")


class LiteLLMOpenAI(LiteLLM):
    name = "litellm-openai"

    def params(self, model: str, reasoning: bool) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": f"openai/{model}",
            "api_base": self.url + "/v1",
            "api_key": "plexus-key",
            "num_retries": 0,
        }
        if reasoning:
            params["reasoning_effort"] = "low"
        return params


class LiteLLMAnthropic(LiteLLM):
    name = "litellm-anthropic"

    def params(self, model: str, reasoning: bool) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": f"anthropic/{model}",
            "api_base": self.url,
            "api_key": "plexus-key",
            "num_retries": 0,
            "max_tokens": 2048,
        }
        if reasoning:
            # litellm only passes `thinking` for model names it knows to think; ours are aliases.
            params["thinking"] = {"type": "enabled", "budget_tokens": 1024}
            params["allowed_openai_params"] = ["thinking"]
        return params


# --- the llm CLI -------------------------------------------------------------------------------

LLM_FUNCTIONS = f'''
def {TOOL_NAME}(city: str) -> str:
    """{TOOL_DESCRIPTION}"""
    return f"{{city.upper()}}-SUNNY-{{len(city) * 7}}C"
'''


class LLMCli(Library):
    """Simon Willison's `llm` command, with gateway model names as OpenAI-compatible models in
    `extra-openai-models.yaml` of a temporary LLM_USER_PATH of its own (so that runs at once keep
    apart their log databases, which only the two-turn conversation writes)."""

    name = "llm"

    def __init__(self, backend: Backend, tmp_path: Path) -> None:
        super().__init__(backend, tmp_path)
        self.home = tmp_path / "llm"
        self.home.mkdir()
        names = [*map(alias, PROVIDERS), GEMINI3, *backend.aliases]
        models = [
            {
                "model_id": f"plexus-{name}",
                "model_name": name,
                "api_base": self.url + "/v1",
                "api_key_name": "plexus",
                "supports_tools": True,
                "reasoning": True,
            }
            for name in names
        ]
        (self.home / "extra-openai-models.yaml").write_text(yaml.safe_dump(models))
        (self.home / "keys.json").write_text(json.dumps({"plexus": "plexus-key"}))

    async def run(self, *args: str, log: bool = False) -> str:
        env = base_env(self.home) | {"LLM_USER_PATH": str(self.home)}
        command = [str(Path(sys.executable).parent / "llm"), *([] if log else ["--no-log"]), *args]
        code, stdout, stderr = await execute(command, env, self.home)
        assert code == 0, f"llm exited {code}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        return stdout.removesuffix("\n")

    async def plain(self, model: str) -> str:
        return await self.run("-m", f"plexus-{model}", "--no-stream", PLAIN_PROMPT)

    async def stream(self, model: str) -> str:
        return await self.run("-m", f"plexus-{model}", PLAIN_PROMPT)

    async def tools(self, model: str, reasoning: bool) -> str:
        extra = ["-o", "reasoning_effort", "low"] if reasoning else []
        return await self.run(
            "-m", f"plexus-{model}", *extra, "--functions", LLM_FUNCTIONS, TOOL_PROMPT
        )

    async def history(self, model: str) -> str:
        await self.run("-m", f"plexus-{model}", "--no-stream", PLAIN_PROMPT, log=True)
        return await self.run("--continue", "--no-stream", AGAIN_PROMPT, log=True)


LIBRARIES: dict[str, type[Library]] = {
    library.name: library
    for library in (
        LangChainOpenAI,
        LangChainAnthropic,
        LangChainGoogle,
        PydanticAIOpenAI,
        PydanticAIAnthropic,
        PydanticAIGoogle,
        OpenAIAgents,
        OpenAIAgentsChat,
        LiteLLMOpenAI,
        LiteLLMAnthropic,
    )
}

# Known failures: (library, provider, scenario) -> reason. Strict, so a fix makes the test fail
# until its line goes.
DROPS_THINKING = (
    "a limit, not a bug: this Chat Completions client sends back neither `reasoning_content` "
    "nor `reasoning_details`; the tool-call id keeps Anthropic's signature but not the thinking "
    "text it signs, so the gateway turns thinking off for the last turn rather than fail"
)
KNOWN: dict[tuple[str, str, str], str] = {
    ("langchain-openai", "messages", "reasoning"): DROPS_THINKING,
    ("openai-agents-chat", "messages", "reasoning"): DROPS_THINKING,
    ("llm", "messages", "reasoning"): DROPS_THINKING,
}


def cases() -> list[Any]:
    """The in-process libraries' cases; the llm CLI has its own (`llm_cases`)."""
    params: list[Any] = []
    for library in LIBRARIES:
        for scenario in SCENARIOS:
            for provider in SIGNING if scenario == "reasoning" else PROVIDERS:
                reason = KNOWN.get((library, provider, scenario))
                marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
                params.append(
                    pytest.param(
                        library,
                        provider,
                        scenario,
                        marks=marks,
                        id=f"{library}-{provider}-{scenario}",
                    )
                )
    return params


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    # The llm runs go at once (`llm_answers`), each on a model name of its own.
    served = Backend({llm_model(*case): case[0] for case in LLM_CASES})
    served.start()
    try:
        yield served
    finally:
        served.stop()


def streamed(api: str, trace: Trace) -> bool:
    """Whether every upstream request of the test asked for a stream."""
    received = trace.received[api]
    if api == "gemini":
        return all(":streamGenerateContent" in r.path for r in received)
    return all(r.body.get("stream") is True for r in received)


async def run_scenario(client: Library, model: str, scenario: str) -> str:
    match scenario:
        case "plain":
            return await client.plain(model)
        case "stream":
            return await client.stream(model)
        case "history":
            return await client.history(model)
        case _:
            return await client.tools(model, reasoning=scenario == "reasoning")


def check(answer: str, api: str, scenario: str, trace: Trace) -> None:
    """The answer is the mock model's for the scenario, and the mock saw the scenario's turns."""
    details = trace.describe()
    if scenario in ("plain", "stream"):
        assert answer == PLAIN_TEXT, details
        trace.check(api, ["plain"])
        assert streamed(api, trace) == (scenario == "stream"), details
        return
    if scenario == "history":
        assert answer == PLAIN_TEXT, details
        trace.check(api, ["plain", "plain"])
        second = json.dumps(trace.received[api][-1].body)
        assert PLAIN_TEXT in second and AGAIN_PROMPT in second, details
        return
    assert answer == FINAL_TEXT, details
    trace.check(api, ["tool_call", "final"])
    final = trace.received[api][-1].body
    assert TOOL_OUTPUT in json.dumps(final), details
    if scenario == "reasoning":
        assert all(reasoning_requested(api, r.body) for r in trace.received[api]), details
        assert signature_came_back(api, final), details


@pytest.mark.parametrize(("library", "provider", "scenario"), cases())
async def test_library(
    backend: Backend, tmp_path: Path, library: str, provider: str, scenario: str
) -> None:
    client = LIBRARIES[library](backend, tmp_path)
    mark = backend.mark()
    answer = await run_scenario(client, alias(provider), scenario)
    check(answer, mock_api(provider), scenario, backend.since(mark))


# The llm CLI starts a Python process per call: its runs go at once, before its tests look.
LLM_CASES = [
    (provider, scenario)
    for scenario in SCENARIOS
    for provider in (SIGNING if scenario == "reasoning" else PROVIDERS)
]
LLM_AT_ONCE = 4


def llm_model(provider: str, scenario: str) -> str:
    return f"llm-{provider}-{scenario}"


@pytest.fixture(scope="module")
def llm_answers(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each llm case's answer, or the error it ended with."""
    slots = asyncio.Semaphore(LLM_AT_ONCE)

    async def one(provider: str, scenario: str) -> str:
        async with slots:
            cli = LLMCli(backend, tmp_path_factory.mktemp("llm"))
            try:
                return await run_scenario(cli, llm_model(provider, scenario), scenario)
            except AssertionError as error:
                return f"error: {error}"

    async def all_cases() -> list[str]:
        return await asyncio.gather(*(one(*case) for case in LLM_CASES))

    answers = asyncio.run(all_cases())
    return {llm_model(*case): answer for case, answer in zip(LLM_CASES, answers, strict=True)}


def llm_cases() -> list[Any]:
    params: list[Any] = []
    for provider, scenario in LLM_CASES:
        reason = KNOWN.get(("llm", provider, scenario))
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(
            pytest.param(provider, scenario, marks=marks, id=llm_model(provider, scenario))
        )
    return params


@pytest.mark.timeout(180)  # the first one waits for every llm run (`llm_answers`)
@pytest.mark.parametrize(("provider", "scenario"), llm_cases())
async def test_llm_cli(
    backend: Backend, llm_answers: dict[str, str], provider: str, scenario: str
) -> None:
    name = llm_model(provider, scenario)
    check(llm_answers[name], mock_api(provider), scenario, backend.trace_of(name))


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_langchain_structured_output(backend: Backend, tmp_path: Path, provider: str) -> None:
    """ChatOpenAI.with_structured_output: the schema reaches the provider in its own terms and
    the JSON answer comes back parsed."""
    mark = backend.mark()
    answer = await LangChainOpenAI(backend, tmp_path).structured(alias(provider))
    trace = backend.since(mark)
    assert answer == SCHEMA_ANSWER, trace.describe()
    trace.check(provider, ["schema"])


@pytest.mark.parametrize("library", ["langchain-google-genai", "pydantic-ai-google"])
async def test_gemini_sdk_default_api_version(
    backend: Backend, tmp_path: Path, library: str
) -> None:
    """The Google libraries as their users configure them: base URL only, API version left to
    google-genai's default."""
    client = LIBRARIES[library](backend, tmp_path)
    if isinstance(client, LangChainGoogle):
        client.api_version = None
    if isinstance(client, PydanticAIGoogle):
        client.default_api_version = True
    mark = backend.mark()
    answer = await client.plain(alias("gemini"))
    trace = backend.since(mark)
    assert answer == PLAIN_TEXT, trace.describe()
    trace.check("gemini", ["plain"])


@pytest.mark.parametrize("library", ["langchain-google-genai", "pydantic-ai-google"])
async def test_gemini_clients_get_the_signature_on_the_call(
    backend: Backend, tmp_path: Path, library: str
) -> None:
    """Gemini puts a turn's thought signature on its first functionCall part (the mock does the
    same); a Gemini client of an Anthropic provider with thinking on must find it there too.
    These two libraries echo every part and so work either way; clients that keep only the
    calls' signatures do not."""
    mark = backend.mark()
    answer = await LIBRARIES[library](backend, tmp_path).tools(alias("messages"), reasoning=True)
    trace = backend.since(mark)
    assert answer == FINAL_TEXT, trace.describe()
    path = f"/v1beta/models/{alias('messages')}:generateContent"
    first = json.loads(next(e.body for e in trace.exchanges if e.path == path))
    parts = first["candidates"][0]["content"]["parts"]
    calls = [part for part in parts if "functionCall" in part]
    assert calls and calls[0].get("thoughtSignature"), parts
