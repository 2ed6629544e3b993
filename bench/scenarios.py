"""What the benchmark sends: the scenarios, the request bodies and the load generator's specs.

A scenario is a client protocol, a provider protocol and whether the answer streams; the
``direct`` contender calls the mock in the provider's protocol, the gateways in the client's.
Portkey is told the provider and the upstream in headers of each request (``portkey_headers``),
and it runs only the scenarios it can serve (``serves``, ``portkey_gap``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

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
# Portkey's provider for each upstream protocol; its custom host is the mock's base URL, with
# the path prefix the provider's own base URL has (Portkey's Gemini endpoint starts at /v1beta).
PORTKEY_PROVIDERS = {"chat": "openai", "messages": "anthropic", "gemini": "google"}
PORTKEY_HOST_PATHS = {"chat": "/v1", "messages": "/v1", "gemini": ""}
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


@dataclass(frozen=True)
class SlowMany:
    """Many slow streams held open at once on one worker: ``n`` Chat Completions streams of
    ``events`` content events, one every ``delay_ms`` (the mock's model ``m-e{events}-d{delay}``,
    Plexus's alias ``bench-chat-slowmany``)."""

    n: int
    events: int
    delay_ms: int

    alias: ClassVar[str] = "bench-chat-slowmany"

    @property
    def upstream_model(self) -> str:
        return f"m-e{self.events}-d{self.delay_ms}"


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


def portkey_gap(sc: Scenario) -> str | None:
    """Why Portkey cannot run ``sc`` (seen with the pinned version), or None if it can."""
    if sc.client == "messages" and sc.provider != "messages":
        return (
            "its `/v1/messages` only reaches providers that speak Messages (to an OpenAI one: "
            "500 `messages is not supported by openai`)"
        )
    if sc.client == "responses" and sc.provider != "responses":
        return (
            "its `/v1/responses` only reaches providers that speak Responses (to an Anthropic "
            "one: 500 `createModelResponse is not supported by anthropic`)"
        )
    if sc.provider == "gemini" and sc.stream:
        return (
            "its Chat Completions streams from Gemini end without `data: [DONE]` (its Google "
            "stream transform never writes one; its Anthropic one does), so every answer fails "
            "the end-marker check all contenders get"
        )
    if sc.client != "chat" or sc.provider not in PORTKEY_PROVIDERS:
        return "no Portkey route for it in this harness"
    return None


def serves(contender: str, sc: Scenario) -> bool:
    """Whether ``contender`` can run ``sc``: all of them but Portkey run every scenario."""
    return portkey_gap(sc) is None if contender.startswith("portkey") else True


def portkey_headers(provider: str, upstream: str) -> dict[str, str]:
    """Portkey's routing headers for a provider protocol, and the upstream's key (the mock
    accepts any): Portkey passes the bearer token on as each provider's own credential."""
    return {
        "Authorization": "Bearer x",
        "x-portkey-provider": PORTKEY_PROVIDERS[provider],
        "x-portkey-custom-host": upstream + PORTKEY_HOST_PATHS[provider],
    }


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


def request_spec(
    sc: Scenario, contender: str, abort: bool = False, upstream: str = ""
) -> dict[str, Any]:
    """The load generator's request for one scenario against one contender.

    ``upstream`` is the mock's base URL (``http://127.0.0.1:PORT``), which only Portkey needs:
    it is told in each request where to send it. The headers are built here, once per job, so
    no contender pays for another's.
    """
    if contender == "direct":
        proto = sc.provider
        if proto == "gemini":
            verb = "streamGenerateContent?alt=sse" if sc.stream else "generateContent"
            path = f"/v1beta/models/{sc.upstream_model}:{verb}"
        else:
            path = CLIENT_PATHS[proto]
        body = client_body(proto, sc.upstream_model, sc.stream)
        headers = {**CLIENT_HEADERS, "x-goog-api-key": "x"}
    elif contender.startswith("portkey"):
        if not upstream or not serves(contender, sc):
            raise ValueError(f"Portkey cannot run {sc.key} (upstream {upstream!r})")
        proto = sc.client
        path = CLIENT_PATHS[proto]
        # No model list in Portkey: the body names the mock's model, passed on as it is.
        body = client_body(proto, sc.upstream_model, sc.stream)
        headers = portkey_headers(sc.provider, upstream)
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
