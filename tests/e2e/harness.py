"""What the e2e runs share: scripted mock upstreams, a recording gateway, the two real clients.

The clients are the npm packages `@anthropic-ai/claude-code` and `@openai/codex`, installed by
`make e2e-deps` into `.cache/node`. Each run gets its own HOME (and CODEX_HOME), an environment
built from scratch (no key or proxy of the developer leaks in), telemetry and update checks off,
and talks only to the gateway on a loopback port.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from plexus import http
from plexus.app import Gateway
from tests.conftest import API_TYPES, Upstreams, mock_app, run_asgi
from tests.mocks.base import MockState, Received, Reply, ToolCall

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = Path(os.environ.get("PLEXUS_E2E_NODE_DIR") or REPO / ".cache" / "node")
BIN = NODE_DIR / "node_modules" / ".bin"
CLIENT_TIMEOUT = 90.0

# The output differs from the command text, so finding it upstream proves the command ran.
COMMAND = "echo plexus-e2e-$((6*7))"
TOOL_OUTPUT = "plexus-e2e-42"
PLAIN_TEXT = "Hello from the mock upstream, through Plexus."
FINAL_TEXT = "Done: the command ran and its output came back."
SIDE_TEXT = "OK"
NO_OUTPUT_TEXT = "The tool result did not come back."


# --- the mock side ---------------------------------------------------------------------------


@dataclass
class ScriptedState(MockState):
    """A mock state whose answer is computed from the request it answers."""

    responder: Callable[[Received], Reply] | None = None
    answered: int = 0

    def next_reply(self) -> Reply:
        """Ask the responder about the request just recorded (the mocks record, then answer)."""
        if self.responder is None:
            return super().next_reply()
        self.answered += 1
        return self.responder(self.received[-1])


@dataclass
class Script:
    """A model that calls `tool` once, then ends with `final`; side requests get plain text.

    A request counts as the agent's main turn when it offers the tool; the tool result came back
    when `TOOL_OUTPUT` is anywhere in the request.
    """

    final: str
    tool: ToolCall | None = None
    log: list[tuple[str, Received]] = field(default_factory=list)

    def __call__(self, received: Received) -> Reply:
        kind, reply = self._decide(received)
        self.log.append((kind, received))
        return reply

    def _decide(self, received: Received) -> tuple[str, Reply]:
        if self.tool is None:
            return "final", Reply(text=self.final)
        if TOOL_OUTPUT in json.dumps(received.body):
            return "final", Reply(text=self.final)
        if f'"{self.tool.name}"' not in json.dumps(received.body.get("tools")):
            return "side", Reply(text=SIDE_TEXT)
        if any(kind == "tool_call" for kind, _ in self.log):
            return "no_output", Reply(text=NO_OUTPUT_TEXT)
        # Claude with thinking on opens a tool-calling turn with signed thinking, and the API
        # refuses the next turn without it: the client must be shown to send it back.
        thinking = received.body.get("thinking")
        reasoning = "The tool answers this." if _thinks(thinking) else ""
        return "tool_call", Reply(
            text="", reasoning=reasoning, tool_calls=[self.tool], stop="tool_use"
        )

    def kinds(self) -> list[str]:
        """What each upstream request was answered with, side requests left out."""
        return [kind for kind, _ in self.log if kind != "side"]


def _thinks(thinking: Any) -> bool:
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def tool_results(api: str, body: dict[str, Any]) -> list[str]:
    """The tool results in an upstream request body, each as JSON text."""
    results: list[Any] = []
    match api:
        case "chat":
            results = [m.get("content") for m in body.get("messages", []) if m["role"] == "tool"]
        case "messages":
            for message in body.get("messages", []):
                content = message.get("content")
                if message["role"] == "user" and isinstance(content, list):
                    results += [b.get("content") for b in content if b["type"] == "tool_result"]
        case "responses":
            items = body.get("input")
            for item in items if isinstance(items, list) else []:
                if item.get("type") == "function_call_output":
                    results.append(item.get("output"))
        case "gemini":
            for content in body.get("contents", []):
                for part in content.get("parts", []):
                    response = part.get("functionResponse") or part.get("function_response")
                    if response is not None:
                        results.append(response.get("response"))
    return [json.dumps(result) for result in results]


@asynccontextmanager
async def scripted_upstreams() -> AsyncIterator[Upstreams]:
    """One strict mock per API type, each with a `ScriptedState`."""
    mocks = Upstreams()
    mocks.states = {api: ScriptedState() for api in API_TYPES}
    try:
        for api in API_TYPES:
            server = TestServer(mock_app(api, mocks.states[api]), host="127.0.0.1")
            await server.start_server()
            mocks.servers[api] = server
        yield mocks
    finally:
        for server in mocks.servers.values():
            await server.close()


# --- the gateway side ------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request the gateway answered, with the status and the whole body it sent."""

    method: str
    path: str
    status: int = 0
    body: bytearray = field(default_factory=bytearray)

    def problems(self) -> list[str]:
        """Error statuses, and error events inside a stream."""
        if self.status >= 400:
            return [f"{self.method} {self.path} -> {self.status}: {self.body[:500].decode()}"]
        found = []
        for line in bytes(self.body).splitlines():
            if not line.startswith(b"data:"):
                continue
            try:
                event = json.loads(line[5:])
            except ValueError:
                continue
            if isinstance(event, dict) and (
                event.get("type") in ("error", "response.failed") or event.get("error")
            ):
                found.append(f"{self.method} {self.path}: stream error event {line[:500]!r}")
        return found


class RecordingGateway:
    """The gateway, with every HTTP exchange recorded on the way out."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope: http.Scope, receive: http.Receive, send: http.Send) -> None:
        if scope["type"] != "http":
            await self.gateway(scope, receive, send)
            return
        exchange = Exchange(scope["method"], scope["path"])
        self.exchanges.append(exchange)

        async def recording_send(message: http.Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            elif message["type"] == "http.response.body":
                exchange.body += message.get("body", b"")
            await send(message)

        await self.gateway(scope, receive, recording_send)

    def problems(self) -> list[str]:
        """Every error the gateway answered, statuses and stream events alike."""
        return [problem for exchange in self.exchanges for problem in exchange.problems()]


def serve(app: RecordingGateway) -> AbstractAsyncContextManager[str]:
    """Run `app` on a loopback port in this event loop."""
    return run_asgi(app)


# --- the clients -----------------------------------------------------------------------------


@dataclass
class Run:
    """What a client run left: exit code, output, and the answer it printed."""

    returncode: int
    stdout: str
    stderr: str
    text: str = ""
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The run's output, for assertion messages."""
        return (
            f"exit {self.returncode}\nerrors: {self.errors}\n"
            f"--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"
        )


def base_env(home: Path) -> dict[str, str]:
    """An environment from scratch: no keys, proxies or settings of the developer."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "SHELL": "/bin/bash",
    }


async def execute(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run a client to its end, killing it after CLIENT_TIMEOUT seconds."""
    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), CLIENT_TIMEOUT)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)  # the client and whatever it started
        stdout, stderr = await process.communicate()
        stderr += f"\n[killed after {CLIENT_TIMEOUT}s]".encode()
    return process.returncode or 0, stdout.decode(errors="replace"), stderr.decode(errors="replace")


async def run_claude(url: str, model: str, prompt: str, home: Path, workdir: Path) -> Run:
    """`claude -p` in its strict mode: streaming only, no silent non-streaming retry."""
    env = base_env(home) | {
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_API_KEY": "plexus-e2e-key",
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        # Every model tier on the alias, so side requests reach the same provider.
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
    }
    command = [
        str(BIN / "claude"),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--model",
        model,
        "--allowedTools",
        "Bash",
        "--no-session-persistence",
        "--strict-mcp-config",
    ]
    code, stdout, stderr = await execute(command, env, workdir)
    run = Run(code, stdout, stderr)
    try:
        result = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        run.errors.append("no JSON result on stdout")
        return run
    run.text = str(result.get("result", ""))
    if result.get("is_error") or result.get("subtype") != "success":
        run.errors.append(f"result: {result.get('subtype')} is_error={result.get('is_error')}")
    return run


CODEX_CONFIG = """\
model = "{model}"
model_provider = "plexus"
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[features]
apps = false
plugins = false
remote_plugin = false
plugin_sharing = false
in_app_updates = false

[model_providers.plexus]
name = "Plexus"
base_url = "{url}/v1"
env_key = "PLEXUS_E2E_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""


async def run_codex(url: str, model: str, prompt: str, home: Path, workdir: Path) -> Run:
    """`codex exec --json` against a `responses` model provider pointing at the gateway."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(CODEX_CONFIG.format(model=model, url=url))
    env = base_env(home) | {"CODEX_HOME": str(codex_home), "PLEXUS_E2E_KEY": "plexus-e2e-key"}
    command = [
        str(BIN / "codex"),
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--ephemeral",
        "--dangerously-bypass-approvals-and-sandbox",
        "--cd",
        str(workdir),
        prompt,
    ]
    code, stdout, stderr = await execute(command, env, workdir)
    run = Run(code, stdout, stderr)
    completed = False
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("type")
        item = event.get("item") or {}
        if kind == "item.completed" and item.get("type") == "agent_message":
            run.text = item.get("text", "")
        elif kind in ("error", "turn.failed"):
            run.errors.append(line[:1000])
        elif kind == "turn.completed":
            completed = True
    if not completed:
        run.errors.append("no turn.completed event")
    return run


CLIENTS: dict[str, Callable[[str, str, str, Path, Path], Awaitable[Run]]] = {
    "claude": run_claude,
    "codex": run_codex,
}
# The tool each client really runs: Claude Code's Bash, Codex's unified exec tool.
TOOLS = {
    "claude": ToolCall("Bash", {"command": COMMAND, "description": "Print the e2e marker"}),
    "codex": ToolCall("exec_command", {"cmd": COMMAND}),
}
