"""The Responses store on a real Postgres (Debian's postgresql package, started by the test):
a conversation kept by one worker continues on another, retrieval and deletion by id."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from plexus.app import Gateway
from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply
from tests.ports import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (BIN / "initdb").exists(), reason="needs Debian's postgresql"),
]


def _as_postgres(*command: str) -> list[str]:
    """Postgres refuses to run as root: run it as its own user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    home = Path(tempfile.mkdtemp(prefix="plexus-pg-"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    port = free_port()
    data = home / "data"
    run = {"check": True, "capture_output": True}
    subprocess.run(_as_postgres(str(BIN / "initdb"), "-D", str(data), "-A", "trust"), **run)  # type: ignore[call-overload]
    options = f"-p {port} -h 127.0.0.1 -k {home}"
    start = [str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w"]
    subprocess.run(_as_postgres(*start, "start"), **run)  # type: ignore[call-overload]
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres(*start, "-m", "fast", "stop"), **run)  # type: ignore[call-overload]
        shutil.rmtree(home, ignore_errors=True)


async def test_a_conversation_moves_between_workers_on_postgres(
    upstreams: Upstreams, postgres_url: str
) -> None:
    upstreams.states["messages"].replies = [Reply(text="Hello Ada."), Reply(text="You are Ada.")]
    config = upstreams.config({"usage": {"database": postgres_url}, "responses": {"store": True}})
    one, two = Gateway(config), Gateway(config)
    async with run_gateway(config, one) as url_one, run_gateway(config, two) as url_two:
        first_worker = openai.AsyncOpenAI(base_url=url_one + "/v1", api_key="k", max_retries=0)
        second_worker = openai.AsyncOpenAI(base_url=url_two + "/v1", api_key="k", max_retries=0)
        first = await first_worker.responses.create(model="messages-model", input="I am Ada.")
        second = await second_worker.responses.create(
            model="messages-model", input="My name?", previous_response_id=first.id
        )
        fetched = await first_worker.responses.retrieve(second.id)
        assert fetched.output_text == "You are Ada."
        await second_worker.responses.delete(first.id)
        with pytest.raises(openai.NotFoundError):
            await first_worker.responses.retrieve(first.id)
    sent = upstreams.states["messages"].received[-1].body["messages"]
    assert [message["content"][0]["text"] for message in sent] == [
        "I am Ada.",
        "Hello Ada.",
        "My name?",
    ]
