"""What the benchmark sends: the scenarios, the request bodies and the load generator's specs.

A scenario is a client protocol, a provider protocol and whether the answer streams; the
``direct`` contender calls the mock in the provider's protocol, the gateways in the client's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

LITELLM_KEY = "sk-bench-7f3c9a2e5b1d4f6a8c0e2b4d6f8a1c3e"
CLIENT_PATHS = {
    "chat": "/v1/chat/completions",
    "messages": "/v1/messages",
    "responses": "/v1/responses",
}
# What a good answer must contain, by the protocol the client receives.
EXPECT_FULL = {
    "chat": "choices",
    "messages": "content",
    "responses": "output",
    "gemini": "candidates",
}
EXPECT_STREAM = {
    "chat": "[DONE]",
    "messages": "message_stop",
    "responses": "response.completed",
    "gemini": "finishReason",
}
CLIENT_HEADERS = {
    "Authorization": f"Bearer {LITELLM_KEY}",
    "x-api-key": LITELLM_KEY,
    "anthropic-version": "2023-06-01",
}
PROMPT = "Summarise the benefits of a unified LLM gateway in three short paragraphs, please."
SYSTEM = "You are a concise assistant."


@dataclass(frozen=True)
class Scenario:
    client: str  # chat | messages | responses
    provider: str  # chat | messages | responses | gemini
    stream: bool
    events: int = 50

    @property
    def key(self) -> str:
        kind = f"stream{self.events}" if self.stream else "full"
        return f"{self.client}>{self.provider} {kind}"

    @property
    def translated(self) -> bool:
        return self.client != self.provider

    @property
    def upstream_model(self) -> str:
        return "m" if self.events == 50 else f"m-e{self.events}"

    def alias(self, provider: str | None = None) -> str:
        base = f"bench-{provider or self.provider}"
        return base if self.events == 50 else f"{base}-e{self.events}"


ALL_SCENARIOS = [
    Scenario("chat", "chat", False),
    Scenario("chat", "chat", True),
    Scenario("chat", "chat", True, 300),
    Scenario("chat", "messages", False),
    Scenario("chat", "messages", True),
    Scenario("messages", "chat", False),
    Scenario("messages", "chat", True),
    Scenario("responses", "messages", False),
    Scenario("responses", "messages", True),
    Scenario("chat", "gemini", False),
    Scenario("chat", "gemini", True),
]

SOAK_MIX = [
    (Scenario("chat", "chat", False), False),
    (Scenario("chat", "messages", False), False),
    (Scenario("chat", "chat", True), False),
    (Scenario("messages", "chat", True), True),  # aborted by the client after its first event
    (Scenario("responses", "messages", False), False),
    (Scenario("chat", "gemini", True), False),
    (Scenario("chat", "messages", True), True),
    (Scenario("messages", "chat", False), False),
    (Scenario("chat", "chat", False), False),
    (Scenario("responses", "messages", True), False),
]


def select_scenarios(patterns: str | None) -> list[Scenario]:
    """The scenarios whose key starts with one of the comma-separated prefixes (all if none)."""
    if not patterns:
        return ALL_SCENARIOS
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    return [s for s in ALL_SCENARIOS if any(s.key.startswith(p) for p in pats)]


def client_body(proto: str, model: str, stream: bool) -> dict[str, Any]:
    if proto == "chat":
        body: dict[str, Any] = {
            "model": model,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": PROMPT},
            ],
            "max_tokens": 512,
            "temperature": 0.7,
        }
    elif proto == "messages":
        body = {
            "model": model,
            "max_tokens": 512,
            "system": SYSTEM,
            "messages": [{"role": "user", "content": PROMPT}],
            "temperature": 0.7,
        }
    elif proto == "responses":
        body = {
            "model": model,
            "instructions": SYSTEM,
            "input": PROMPT,
            "max_output_tokens": 512,
            "temperature": 0.7,
        }
    elif proto == "gemini":
        return {
            "systemInstruction": {"parts": [{"text": SYSTEM}]},
            "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
            "generationConfig": {"maxOutputTokens": 512, "temperature": 0.7},
        }
    else:
        raise ValueError(proto)
    if stream:
        body["stream"] = True
    return body


def request_spec(sc: Scenario, contender: str, abort: bool = False) -> dict[str, Any]:
    """The load generator's request for one scenario against one contender."""
    if contender == "direct":
        proto = sc.provider
        if proto == "gemini":
            verb = "streamGenerateContent?alt=sse" if sc.stream else "generateContent"
            path = f"/v1beta/models/{sc.upstream_model}:{verb}"
        else:
            path = CLIENT_PATHS[proto]
        body = client_body(proto, sc.upstream_model, sc.stream)
        headers = {**CLIENT_HEADERS, "x-goog-api-key": "x"}
    else:
        proto = sc.client
        path = CLIENT_PATHS[proto]
        # The bare forwarder does not translate: it gets the client protocol's own alias.
        model = sc.alias(sc.client) if contender.startswith("bare") else sc.alias()
        body = client_body(proto, model, sc.stream)
        headers = CLIENT_HEADERS
    expect = (EXPECT_STREAM if sc.stream else EXPECT_FULL)[proto]
    return {
        "path": path,
        "body": json.dumps(body),
        "stream": sc.stream,
        "expect": expect,
        "headers": headers,
        "abort": abort,
    }
