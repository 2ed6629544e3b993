"""Claude Code and the Codex CLI, headless, through Plexus to every provider type.

Each run starts the gateway in-process in front of the strict mocks, runs the real client as a
subprocess pointed at it, and checks both ends: the client exits 0 and prints the mock's final
text; the gateway answered no error (status or stream error event); every upstream request passed
the strict mock's validation; and, for the tool round trip, the client really ran the tool (its
output, which differs from the command text, is in the tool result the upstream got next).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from plexus.app import Gateway
from tests.conftest import API_TYPES, Upstreams
from tests.e2e.harness import (
    BIN,
    CLIENTS,
    FINAL_TEXT,
    PLAIN_TEXT,
    TOOL_OUTPUT,
    TOOLS,
    RecordingGateway,
    Run,
    Script,
    ScriptedState,
    scripted_upstreams,
    serve,
    tool_results,
)

PROMPTS = {
    "plain": "Say hello.",
    "tool": "Run `echo plexus-e2e-$((6*7))` in the shell and tell me what it printed.",
}
# Known failures, each with its cause; strict, so a fix makes the run fail until this is updated.
# Pairs known to fail, with the reason; each becomes a strict xfail so a fix is noticed.
KNOWN: dict[tuple[str, str], str] = {}


def _cases() -> list[object]:
    cases: list[object] = []
    for client in CLIENTS:
        for provider in API_TYPES:
            for scenario in PROMPTS:
                reason = KNOWN.get((client, provider))
                marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
                cases.append(
                    pytest.param(
                        client,
                        provider,
                        scenario,
                        marks=marks,
                        id=f"{client}-{provider}-{scenario}",
                    )
                )
    return cases


pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


@pytest.fixture(scope="module", autouse=True)
def clients_installed() -> None:
    missing = [name for name in CLIENTS if shutil.which(name, path=str(BIN)) is None]
    if missing:
        message = f"{', '.join(missing)} not installed in {BIN}: run `make e2e-deps`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def report(run: Run, mocks: Upstreams, gateway: RecordingGateway) -> str:
    """Everything needed to see why a run failed."""
    lines = [run.describe(), "--- gateway problems", *gateway.problems(), "--- upstream requests"]
    for api in API_TYPES:
        for received in mocks.states[api].received[-3:]:
            lines.append(f"{api}: {received.path} {json.dumps(received.body)[:300]}")
    return "\n".join(lines)


@pytest.mark.parametrize(("client", "provider", "scenario"), _cases())
async def test_real_client(client: str, provider: str, scenario: str, tmp_path: Path) -> None:
    home, workdir = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    workdir.mkdir()
    tool = TOOLS[client] if scenario == "tool" else None
    script = Script(final=FINAL_TEXT if tool else PLAIN_TEXT, tool=tool)
    async with scripted_upstreams() as mocks:
        state = mocks.states[provider]
        assert isinstance(state, ScriptedState)
        state.responder = script
        gateway = RecordingGateway(Gateway(mocks.config()))
        async with serve(gateway) as url:
            run = await CLIENTS[client](url, f"{provider}-model", PROMPTS[scenario], home, workdir)
    details = report(run, mocks, gateway)

    assert state.received, details
    assert state.answered == len(state.received), "the strict mock rejected a request\n" + details
    others = [api for api in API_TYPES if api != provider and mocks.states[api].received]
    assert not others, details
    assert not gateway.problems(), details
    assert run.returncode == 0, details
    assert not run.errors, details
    assert run.text == script.final, details
    if tool is not None:
        assert script.kinds() == ["tool_call", "final"], details
        answered = next(received for kind, received in script.log if kind == "final")
        results = tool_results(provider, answered.body)
        assert any(TOOL_OUTPUT in result for result in results), f"{results}\n{details}"
