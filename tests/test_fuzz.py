"""Random and malformed bodies and headers at every endpoint: never a 5xx, always a well-formed
error in the endpoint's own format, and the gateway still serving afterwards (issue 4)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import msgspec
import pytest
import structlog
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plexus.app import Gateway
from tests.conftest import API_TYPES, Answer, Upstreams, asgi_post, mock_app

T = TypeVar("T")

ENDPOINTS = {
    "chat": "/v1/chat/completions",
    "messages": "/v1/messages",
    "responses": "/v1/responses",
    "gemini": "/v1beta/models/chat-model:generateContent",
    "count_tokens": "/v1/messages/count_tokens",
}
# Hypothesis draws EXAMPLES structured inputs per endpoint; each is also sent in MUTANTS cheap
# byte-level variants (truncated, flipped, spliced), so every endpoint gets 10,000 requests while
# hypothesis's generation cost is paid for a tenth of them.
EXAMPLES = int(os.environ.get("PLEXUS_FUZZ_EXAMPLES", "1000"))
MUTANTS = 9

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
roles = st.sampled_from(["user", "assistant", "system", "developer", "tool", "model", "bogus"])
parts = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["text", "image_url", "image", "tool_use", "tool_result", "input_text", "x"]
        )
    },
    optional={"text": json_values, "id": json_values, "input": json_values, "source": json_values},
)
message = st.fixed_dictionaries(
    {"role": roles},
    optional={
        "content": st.text(max_size=20) | st.lists(parts, max_size=3) | json_values,
        "tool_calls": json_values,
        "tool_call_id": json_values,
    },
)
plausible = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["chat-model", "messages-model", "responses-model", "nope"])
        | json_values
    },
    optional={
        "messages": st.lists(message, max_size=4) | json_values,
        "input": st.text(max_size=10) | st.lists(message, max_size=3) | json_values,
        "contents": st.lists(st.fixed_dictionaries({"parts": json_values}), max_size=2)
        | json_values,
        "max_tokens": json_values,
        "stream": json_values,
        "tools": json_values,
        "tool_choice": json_values,
        "system": json_values,
        "temperature": json_values,
    },
)
bodies = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | plausible.map(lambda v: json.dumps(v).encode())
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
headers = st.fixed_dictionaries(
    {},
    optional={
        "authorization": header_values,
        "x-api-key": header_values,
        "content-type": header_values,
        "anthropic-version": header_values,
    },
)


def mutate(body: bytes, rng: random.Random) -> bytes:
    """A cheap malformed variant of `body`."""
    if not body:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    at = rng.randrange(len(body))
    match rng.randrange(5):
        case 0:
            return body[:at]
        case 1:
            return body[:at] + bytes([rng.randrange(256)]) + body[at + 1 :]
        case 2:
            junk = rng.choice([b"{", b"}", b"[", b'"', b",", b":", b"null", b"\\u"])
            return body[:at] + junk + body[at:]
        case 3:
            return body + body[at:]
        case _:
            return body.replace(b'"', b"", 1) if b'"' in body else body[::-1]


def assert_error_format(api: str, answer: Answer) -> None:
    assert 200 <= answer.status < 500, (answer.status, answer.body)
    if answer.status < 400:
        return
    error = msgspec.json.decode(answer.body)
    if api in ("messages", "count_tokens"):
        assert error["type"] == "error" and isinstance(error["error"]["message"], str)
    else:
        assert isinstance(error["error"]["message"], str)


class LoopThread:
    """An event loop in its own thread, so hypothesis can drive async code from a sync test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[LoopThread, Gateway]]:
    """Mock upstreams and a gateway, all living in a background loop."""
    runner = LoopThread()
    mocks = Upstreams()
    # One log line per request is the gateway's contract, but 50,000 of them only slow this down.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    async def start() -> Gateway:
        for api in API_TYPES:
            server = TestServer(mock_app(api, mocks.states[api]), host="127.0.0.1")
            await server.start_server()
            mocks.servers[api] = server
        gateway = Gateway(mocks.config())
        await gateway.upstream.start()
        return gateway

    async def stop(gateway: Gateway) -> None:
        await gateway.upstream.close()
        for server in mocks.servers.values():
            await server.close()

    gateway = runner.run(start())
    yield runner, gateway
    runner.run(stop(gateway))
    runner.close()
    structlog.reset_defaults()


@pytest.mark.parametrize("api", list(ENDPOINTS))
def test_random_input_never_breaks_the_gateway(
    served: tuple[LoopThread, Gateway], api: str
) -> None:
    runner, gateway = served
    path = ENDPOINTS[api]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=bodies, extra=headers, rng=st.randoms(use_true_random=False))
    def check(body: bytes, extra: dict[str, str], rng: random.Random) -> None:
        for variant in [body, *(mutate(body, rng) for _ in range(MUTANTS))]:
            assert_error_format(api, runner.run(asgi_post(gateway, path, variant, extra)))

    check()
    sane = (
        b'{"model": "chat-model", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}'
    )
    assert runner.run(asgi_post(gateway, ENDPOINTS["chat"], sane, {})).status == 200
