"""The usage ledger end to end: a record per request in the store, x-request-id on every answer,
`/metrics` in Prometheus's format, whose totals match the requests sent."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from plexus.app import Gateway
from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply

HI: Any = [{"role": "user", "content": "hi"}]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_every_request_is_a_row_and_a_metric(upstreams: Upstreams, data_dir: Path) -> None:
    gateway = Gateway(upstreams.config())
    async with run_gateway(gateway.config, gateway) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        for model in ("chat-model", "messages-model", "gemini-model", "responses-model"):
            await client.chat.completions.create(model=model, messages=HI)
        stream = await client.chat.completions.create(
            model="messages-model", messages=HI, stream=True, stream_options={"include_usage": True}
        )
        async for _ in stream:
            pass
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="nope", messages=HI)
        async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as answer:
            assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
            metrics = _samples(await answer.text())
    # Closing the gateway flushed the store (as SIGTERM does).
    with sqlite3.connect(data_dir / "usage.db") as db:
        rows = db.execute(
            "SELECT alias, provider, stream, status, input_tokens, output_tokens FROM requests "
            "ORDER BY id"
        ).fetchall()
    assert [row[:4] for row in rows] == [
        ("chat-model", "mock-chat", 0, 200),
        ("messages-model", "mock-messages", 0, 200),
        ("gemini-model", "mock-gemini", 0, 200),
        ("responses-model", "mock-responses", 0, 200),
        ("messages-model", "mock-messages", 1, 200),
        ("nope", "", 0, 404),
    ]
    assert all(row[5] == 7 for row in rows[:5])  # the mocks' output tokens, every path
    ok = {"client_api": "chat", "alias": "messages-model", "provider": "mock-messages"}
    labels = tuple(sorted((ok | {"status_class": "2xx"}).items()))
    assert metrics["plexus_requests_total", labels] == 2
    assert metrics["plexus_tokens_total", (("type", "output"),)] == 35
    assert metrics["plexus_errors_total", (("kind", "not_found"),)] == 1
    assert metrics["plexus_request_duration_seconds_count", ()] == 6


async def test_every_answer_carries_a_request_id(gateway: str) -> None:
    async with aiohttp.ClientSession() as session:
        body = {"model": "chat-model", "messages": HI}
        url = gateway + "/v1/chat/completions"
        async with session.post(url, json=body) as answer:
            assert answer.headers["x-request-id"]
        mine = {"x-request-id": "trace-123"}
        async with session.post(url, json=body, headers=mine) as answer:
            assert answer.headers["x-request-id"] == "trace-123"
        async with session.post(url, json={**body, "stream": True}, headers=mine) as answer:
            await answer.read()
            assert answer.headers["x-request-id"] == "trace-123"
        async with session.post(url, json={"model": "nope", "messages": HI}) as answer:
            assert answer.status == 404 and answer.headers["x-request-id"]
        # One too long to echo and store, or with control characters: the gateway's own.
        for hostile in ("r" * 129, "id\tx"):
            async with session.post(url, json=body, headers={"x-request-id": hostile}) as answer:
                assert answer.status == 200
                assert answer.headers["x-request-id"] not in (hostile, "")
        longest = {"x-request-id": "r" * 128}
        async with session.post(url, json=body, headers=longest) as answer:
            assert answer.headers["x-request-id"] == longest["x-request-id"]


async def test_metrics_need_a_key_or_the_token_when_keys_exist(upstreams: Upstreams) -> None:
    config = upstreams.config(
        {"keys": {"ops": {"secret": "ops-secret-123"}}, "server": {"metrics_token": "scrape-1"}}
    )
    async with run_gateway(config) as url, aiohttp.ClientSession() as session:
        async with session.get(url + "/metrics") as answer:
            assert answer.status == 401
        for secret in ("ops-secret-123", "scrape-1"):
            headers = {"authorization": f"Bearer {secret}"}
            async with session.get(url + "/metrics", headers=headers) as answer:
                assert answer.status == 200


async def test_metrics_can_be_turned_off(upstreams: Upstreams) -> None:
    config = upstreams.config({"server": {"metrics": False}})
    async with (
        run_gateway(config) as url,
        aiohttp.ClientSession() as session,
        session.get(url + "/metrics") as answer,
    ):
        assert answer.status == 404
        assert (await answer.json())["error"]["code"] == "unknown_url"


async def test_a_stream_cut_before_its_usage_is_estimated(
    upstreams: Upstreams, data_dir: Path
) -> None:
    # The provider bills a cut stream: the row gets an estimate, marked as one, not nothing.
    upstreams.states["chat"].reply = Reply(text="A long answer, cut short.", cut_after_events=2)
    async with run_gateway(upstreams.config()) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        stream = await client.chat.completions.create(model="chat-model", messages=HI, stream=True)
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
        await client.chat.completions.create(model="chat-model", messages=HI)
    with sqlite3.connect(data_dir / "usage.db") as db:
        rows = db.execute(
            "SELECT tokens_estimated, input_tokens, output_tokens FROM requests ORDER BY id"
        ).fetchall()
    received = upstreams.states["chat"].received[0]
    body_tokens = len(json.dumps(received.body)) // 4
    (estimated, estimate, output), reported = rows
    assert estimated == 1 and output == 2  # "A lon" went out: 5 characters, rounded up
    assert 0.5 * body_tokens <= estimate <= 2 * body_tokens  # the client's body, over 4
    assert reported == (0, 11, 7)  # an answer with usage is not estimated


LONG_ANSWER = "".join(f"word{n} " for n in range(400))


@pytest.mark.parametrize(
    ("client_api", "alias", "api", "cut"),
    [
        ("chat", "chat-model", "chat", 150),  # relayed as is
        ("chat", "messages-model", "messages", 150),  # translated
        ("messages", "chat-model", "chat", 150),
        ("responses", "gemini-model", "gemini", 1),  # Gemini's mock sends two halves
    ],
)
async def test_a_cut_streams_output_is_estimated_from_its_content(
    upstreams: Upstreams, data_dir: Path, client_api: str, alias: str, api: str, cut: int
) -> None:
    upstreams.states[api].reply = Reply(text=LONG_ANSWER, cut_after_events=cut)
    async with run_gateway(upstreams.config()) as url:
        text = await _read_cut_stream(url, client_api, alias)
    with sqlite3.connect(data_dir / "usage.db") as db:
        estimated, output = db.execute(
            "SELECT tokens_estimated, output_tokens FROM requests"
        ).fetchone()
    assert 100 < len(text) < len(LONG_ANSWER)  # the stream was cut, after some content
    assert estimated == 1 and 0.7 * len(text) / 4 <= output <= 1.5 * len(text) / 4


async def _read_cut_stream(url: str, client_api: str, alias: str) -> str:
    """The text a client of `client_api` got before its stream broke off."""
    text = ""
    if client_api == "messages":
        async with anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0) as claude:
            with pytest.raises(anthropic.APIError):
                async with claude.messages.stream(
                    model=alias, max_tokens=4000, messages=HI
                ) as stream:
                    async for piece in stream.text_stream:
                        text += piece
        return text
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client:
        if client_api == "chat":
            with pytest.raises(openai.APIError):
                async for chunk in await client.chat.completions.create(
                    model=alias, messages=HI, stream=True
                ):
                    text += "".join(choice.delta.content or "" for choice in chunk.choices)
            return text
        kinds = []
        async for event in await client.responses.create(model=alias, input="hi", stream=True):
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
        assert kinds[-1] == "response.failed"  # how a Responses stream ends in error
    return text
