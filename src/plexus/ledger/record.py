"""One record per request: the single hand-off of everything a request's end tells, to the
access log, the usage store, the metrics and the tracer (platform.md 1)."""

from __future__ import annotations

import msgspec


class Attempt(msgspec.Struct, array_like=True):
    """One target tried for a request: how it ended and how long it took (the record keeps
    the request's list as is; the store's writer encodes it, off the request path)."""

    provider: str
    model: str
    error: str | None = None
    status: int = 0  # the upstream's or the gateway's status for this attempt
    duration_ms: float = 0.0


class UsageRecord(msgspec.Struct, kw_only=True):
    """What one request was and cost; never a prompt, never a secret (the key's name only)."""

    request_id: str
    time: float  # Unix seconds when it arrived
    key: str = ""  # the gateway key's name ("" when the API is open)
    client_api: str
    route: str = "generate"  # generate | count_tokens | embeddings | ...
    alias: str = ""  # the model name the client asked for
    provider: str = ""
    upstream_model: str = ""
    passthrough: bool = False
    stream: bool = False
    attempts: int = 0
    status: int = 0
    error_kind: str | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None  # uncached; the IR's disjoint buckets
    output_tokens: int | None = None  # reasoning included
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    tokens_estimated: bool = False
    cost_usd: float | None = None  # None: unpriced, not free
    cost_source: str | None = None  # provider | config | table
    ttfb_ms: float | None = None  # to the first byte sent to the client
    ttft_ms: float | None = None  # to the first token (content) sent
    duration_ms: float = 0.0
    overhead_ms: float | None = None  # time not spent waiting on the upstream
    user_agent: str | None = None
    trail: list[Attempt] = msgspec.field(default_factory=list)  # the targets tried, in order

    @property
    def status_class(self) -> str:
        """`2xx`, `4xx`, ... (`499` for a client that went away)."""
        return f"{self.status // 100}xx" if self.status else "0xx"


_encoder = msgspec.json.Encoder()


def encode_trail(trail: list[Attempt]) -> str:
    """The trail as the store keeps it: JSON text, `[[provider, model, error, status, ms]]`."""
    return _encoder.encode(trail).decode()
