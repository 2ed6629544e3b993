"""Translated requests respect what the target Claude model accepts (protocols.md 2.6)."""

from __future__ import annotations

import openai

from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply


async def test_chat_client_reasoning_to_a_new_claude_model(upstreams: Upstreams) -> None:
    # The strict mock answers 400 to manual thinking or a temperature on Opus 4.7, as the API does.
    upstreams.states["messages"].reply = Reply(
        text="Done.", reasoning="Thinking it over.", signature="c2ln"
    )
    target = {"provider": "mock-messages", "model": "claude-opus-4-7"}
    config = upstreams.config({"models": {"opus": {"targets": [target]}}})
    async with run_gateway(config) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        completion = await client.chat.completions.create(
            model="opus",
            messages=[{"role": "user", "content": "hi"}],
            reasoning_effort="high",
            temperature=0.3,
        )
    assert completion.choices[0].message.content == "Done."
    sent = upstreams.states["messages"].received[-1].body
    assert sent["thinking"]["type"] == "adaptive" and sent["output_config"]["effort"] == "high"
    assert "temperature" not in sent
