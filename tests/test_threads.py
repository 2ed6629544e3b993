"""Anthropic message threads on translated routes (issue 11 bug 9): refused the way the API
refuses what threads cannot serve, so the SDK's thread helper sends the whole conversation."""

from __future__ import annotations

import json

import aiohttp
import anthropic

from tests.conftest import Upstreams, run_gateway

BETA = {"anthropic-beta": "message-threads-2026-08-12", "anthropic-version": "2023-06-01"}


async def test_the_sdk_thread_helper_falls_back_to_whole_conversations(
    gateway: str, upstreams: Upstreams
) -> None:
    client = anthropic.AsyncAnthropic(base_url=gateway, api_key="k", max_retries=0)
    thread = client.beta.messages.thread(
        model="chat-model", max_tokens=50, unsupported_request_behavior="continue_unthreaded"
    )
    first = await thread.send({"role": "user", "content": "My name is Ada."})
    second = await thread.send({"role": "user", "content": "What is my name?"})
    assert first.content and second.content
    history = upstreams.states["chat"].received[-1].body["messages"]
    # The provider saw the whole conversation, not the new message alone.
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[0]["content"] == "My name is Ada."


async def test_refusals_carry_the_error_codes_the_sdk_reads(gateway: str) -> None:
    base = {"model": "chat-model", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    async with aiohttp.ClientSession() as session:
        create = {**base, "thread": {"type": "create"}}
        async with session.post(gateway + "/v1/messages", json=create, headers=BETA) as answer:
            assert answer.status == 400
            error = json.loads(await answer.read())["error"]
        assert error["details"] == {"error_code": "thread_unsupported_request", "unsupported": []}
        follow = {**base, "thread": {"type": "continue", "previous_message_id": "msg_1"}}
        async with session.post(gateway + "/v1/messages", json=follow, headers=BETA) as answer:
            assert answer.status == 404
            error = json.loads(await answer.read())["error"]
        assert error["type"] == "not_found_error"
        assert error["details"] == {"error_code": "thread_not_found"}


async def test_a_thread_passes_through_to_anthropic_untouched(upstreams: Upstreams) -> None:
    body = {
        "model": "messages-model", "max_tokens": 10, "thread": {"type": "create"},
        "messages": [{"role": "user", "content": "x"}],
    }  # fmt: skip
    async with (
        run_gateway(upstreams.config()) as url,
        aiohttp.ClientSession() as session,
        session.post(url + "/v1/messages", json=body, headers=BETA) as answer,
    ):
        await answer.read()
    assert upstreams.states["messages"].received[-1].body["thread"] == {"type": "create"}
