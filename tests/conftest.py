"""Shared fixtures: mock upstreams of every type and a gateway running on a loopback port."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvicorn
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, settings

from plexus.app import Gateway
from plexus.config import Config, parse_config
from plexus.server import GuardedHttpToolsProtocol
from tests.mocks.base import MockState

pytest_plugins = ["tests.pg"]  # a real Postgres: `postgres`, `pg_url`, `postgres_template`

# Every file a test reads lives under tests/fixtures: nothing outside the clone is needed.
FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = FIXTURES / "seeds"

# Hypothesis profiles. "ci" (CI runs with CI=true) tries the same examples on every run, so a red
# build is never luck and replays from the printed blob; "dev" keeps Hypothesis's defaults, random
# examples that keep exploring. Loaded here, before any test module is imported, so that each
# per-test @settings inherits what it does not set itself (derandomize above all) from the profile.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],  # a slow shared runner is not a failing test
)
settings.register_profile("dev", max_examples=100)
settings.load_profile("ci" if "CI" in os.environ else "dev")

API_TYPES = ("chat", "messages", "responses", "gemini")
BASE_PATH = {"chat": "/v1", "messages": "/v1", "responses": "/v1", "gemini": "/v1beta"}


def seed(name: str) -> dict[str, Any]:
    """Load a seed request body, e.g. `chat/basic.json`."""
    data: dict[str, Any] = json.loads((SEEDS / name).read_text())
    return data


def fixture_cases(directory: Path, suffix: str, *, exclude: str | None = None) -> list[str]:
    """The sorted names, minus `suffix`, of the files in `directory` ending in `suffix`.

    Names ending in `exclude` are left out (the `.chat.sse` outputs next to the `.sse` inputs).
    None at all is an error at collection time: a moved or missing fixture directory must not
    turn a parametrized test into zero cases that pass unseen.
    """
    names = sorted(
        path.name.removesuffix(suffix)
        for path in directory.glob(f"*{suffix}")
        if exclude is None or not path.name.endswith(exclude)
    )
    if not names:
        raise FileNotFoundError(f"no *{suffix} fixture in {directory}")
    return names


def mock_app(api: str, state: MockState) -> web.Application:
    """The strict mock upstream of one API type."""
    module = __import__(f"tests.mocks.{api}_upstream", fromlist=["create_app"])
    app: web.Application = module.create_app(state)
    return app


class Upstreams:
    """One running mock upstream per API type, with their shared states."""

    def __init__(self) -> None:
        self.states: dict[str, MockState] = {api: MockState() for api in API_TYPES}
        self.servers: dict[str, TestServer] = {}

    def base_url(self, api: str) -> str:
        """The `api_base_url` a provider config uses for this mock."""
        server = self.servers[api]
        return f"http://127.0.0.1:{server.port}{BASE_PATH[api]}"

    def config(self, extra: dict[str, Any] | None = None) -> Config:
        """A config with a provider `mock-<api>` and an alias `<api>-model` per mock."""
        raw: dict[str, Any] = {
            "providers": {
                f"mock-{api}": {
                    "type": api,
                    "api_base_url": self.base_url(api),
                    "api_key": "upstream-key",
                }
                for api in API_TYPES
            },
            "models": {
                f"{api}-model": {"targets": [{"provider": f"mock-{api}", "model": f"up-{api}"}]}
                for api in API_TYPES
            },
        }
        for key, value in (extra or {}).items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key].update(value)
            else:
                raw[key] = value
        return parse_config(raw)


@pytest.fixture(scope="session", autouse=True)
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The data directory of gateways a module- or session-scoped fixture starts, before any
    test's own `data_dir`: without it they wrote the usage store and metrics snapshots into
    the clone's `data/`, where `make serve` found the tests' counters."""
    directory = tmp_path_factory.mktemp("plexus-data")
    before = os.environ.get("PLEXUS_DATA_DIR")
    os.environ["PLEXUS_DATA_DIR"] = str(directory)
    yield directory
    if before is None:
        os.environ.pop("PLEXUS_DATA_DIR", None)
    else:
        os.environ["PLEXUS_DATA_DIR"] = before


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own data directory (usage store, metrics snapshots), never the repo's."""
    directory = tmp_path / "plexus-data"
    monkeypatch.setenv("PLEXUS_DATA_DIR", str(directory))
    return directory


@pytest.fixture
async def upstreams() -> AsyncIterator[Upstreams]:
    """Start every mock upstream on a loopback port."""
    mocks = Upstreams()
    for api in API_TYPES:
        server = TestServer(mock_app(api, mocks.states[api]), host="127.0.0.1")
        await server.start_server()
        mocks.servers[api] = server
    yield mocks
    for server in mocks.servers.values():
        await server.close()


@asynccontextmanager
async def run_gateway(config: Config, gateway: Gateway | None = None) -> AsyncIterator[str]:
    """Run a gateway (built from `config` unless given) in this event loop; yield its base URL."""
    async with run_asgi(gateway or Gateway(config)) as url:
        yield url


@asynccontextmanager
async def run_asgi(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on a loopback port in this event loop; yield its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            lifespan="on",
            http=GuardedHttpToolsProtocol,
            log_level="warning",
            access_log=False,
        )
    )
    task = asyncio.create_task(server._serve())  # _serve: no signal handlers inside tests
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp app (a mock or a misbehaving upstream) on a loopback port; yield
    `http://127.0.0.1:PORT`."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


@asynccontextmanager
async def extra_mock(api: str, state: MockState) -> AsyncIterator[str]:
    """One more mock upstream of `api`, for tests that need two of a kind; yield its base URL."""
    async with serve_app(mock_app(api, state)) as url:
        yield url + BASE_PATH[api]


@pytest.fixture
async def gateway(upstreams: Upstreams) -> AsyncIterator[str]:
    """A gateway in front of all mock upstreams, with the default test config."""
    async with run_gateway(upstreams.config()) as url:
        yield url


class Answer:
    """What the gateway sent back through ASGI."""

    def __init__(self) -> None:
        self.status = 0
        self.bodies: list[bytes] = []  # one per non-empty `send`, as the client received them

    @property
    def body(self) -> bytes:
        return b"".join(self.bodies)

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body" and message.get("body"):
            self.bodies.append(message["body"])


async def asgi_post(
    gateway: Gateway, path: str, body: bytes, extra: dict[str, str] | None = None
) -> Answer:
    """POST `body` to the gateway's ASGI callable directly, as a server would; the client
    never goes away."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:  # as an ASGI server does: block until the client goes away (it never does)
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in (extra or {}).items()],
    }
    answer = Answer()
    await gateway(scope, receive, answer.send)  # type: ignore[arg-type]
    return answer


async def start_plexus(
    config: Path, port: int, log: Path, env: dict[str, str] | None = None, new_group: bool = False
) -> asyncio.subprocess.Process:
    """`plexus serve` in a process of its own (`new_group`: leading a process group, as a
    terminal's foreground job does), its output appended to `log` (a pipe nobody reads while it
    serves fills up and blocks the gateway's event loop); `until_healthy` waits."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "plexus.cli", "serve", "--config", str(config),
            "--port", str(port), env=env, stdout=out, stderr=out, start_new_session=new_group,
        )  # fmt: skip


async def until_healthy(url: str, workers: int = 1) -> None:
    """Wait for a gateway started in another process to answer `/health`, from `workers`
    worker processes (told apart by their request ids' prefix): a test that needs both of two
    workers must not start while the second is still starting and the first takes everything."""
    seen: set[str] = set()
    for _ in range(200):
        try:
            async with aiohttp.ClientSession() as session, session.get(url + "/health") as answer:
                if answer.status == 200:
                    seen.add(answer.headers["x-request-id"].split("-")[0])
                    if len(seen) >= workers:
                        return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"the gateway did not start ({len(seen)} of {workers} workers answered)")
