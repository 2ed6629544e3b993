"""What tracing costs per request, in microseconds, on one core: the work in the worker (trace
context, the attempt's child span, the upstream's headers; at the end the context reduced and
encoded, with the record, for the recorder process) and the work the recorder does for it
(making a request's two spans, encoded, and putting a batch of them in a request body).

    .venv/bin/python bench/trace_cost.py
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable
from typing import Any

from plexus.call import ClientRequest, read_request
from plexus.config import TracingConfig
from plexus.ledger.record import Attempt, UsageRecord
from plexus.protocols import codec_for
from plexus.recorder.wire import Batch, Finished, frame
from plexus.routes import Route
from plexus.tracing.otlp import Encoder
from plexus.tracing.span import encode_spans
from plexus.tracing.tracer import Tracer

BATCH = 512  # requests per export, the default `tracing.batch_requests`
HEADERS = {
    "content-type": "application/json",
    "user-agent": "AsyncOpenAI/Python 3.57.0",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}
ROUTE = Route("generate", "chat")
BODY = b'{"model":"chat-model","messages":[{"role":"user","content":"hi"}]}'


def _record(number: int, attempt: Attempt) -> UsageRecord:
    """A request's record; ids, tokens, cost and timings differ from request to request (they
    are not in the encoder's table of repeated attributes)."""
    return UsageRecord(
        trail=[attempt],
        request_id=f"7f55-0791f7-{number:x}",
        time=time.time(),
        client_api="chat",
        alias="chat-model",
        provider="openai",
        upstream_model="gpt-4.1-mini",
        passthrough=True,
        attempts=1,
        status=200,
        finish_reason="end",
        input_tokens=1200 + number,
        output_tokens=300 + number,
        cache_read_tokens=1024,
        cost_usd=0.00123 + number / 1e6,
        cost_source="table",
        ttfb_ms=210.5 + number,
        ttft_ms=210.6 + number,
        duration_ms=812.3 + number,
        overhead_ms=0.31 + number / 1e3,
        user_agent="AsyncOpenAI/Python 3.57.0",
    )


def request_path(tracer: Tracer) -> tuple[ClientRequest, Attempt]:
    """What a traced request does in the gateway beyond an untraced one."""
    scope: Any = {"method": "POST", "path": "/v1/chat/completions", "scheme": "http"}
    context = tracer.begin(scope, HEADERS)
    request = read_request("chat", codec_for("chat"), HEADERS, BODY, 0.0, None, "", context)
    attempt = Attempt("openai", "gpt-4.1-mini", None, 200, 812.0)
    context.begin_attempt(1, 0.0)
    request.trace_headers  # noqa: B018  (what the upstream call's headers take)
    return request, attempt


def untraced_path() -> tuple[ClientRequest, Attempt]:
    request = read_request("chat", codec_for("chat"), HEADERS, BODY, 0.0)
    return request, Attempt("openai", "gpt-4.1-mini", None, 200, 812.0)


def _best(run: Callable[[], object], number: int) -> float:
    """CPU microseconds per call, the best of five runs."""
    # CPU time, not wall time: the machine may be busy with other work.
    found = timeit.repeat(run, number=number, repeat=5, timer=time.process_time)
    return min(found) / number * 1e6


def main() -> None:
    tracer = Tracer(TracingConfig(endpoint="http://127.0.0.1:4318/v1/traces", sample_ratio=1.0))
    on_path = _best(lambda: request_path(tracer), 20_000)
    untraced = _best(untraced_path, 20_000)
    request, attempt = request_path(tracer)
    assert request.trace is not None
    context = request.trace
    reduced = _best(lambda: Tracer.finished(context, 0.0, ROUTE), 20_000)
    traced = Tracer.finished(context, 0.0, ROUTE)
    assert traced is not None
    finished = [(_record(number, attempt), traced) for number in range(BATCH)]
    wire = [Finished(record, trace) for record, trace in finished]
    sent = _best(lambda: frame(Batch(wire)), 20) / BATCH
    encoder = Encoder([("service.name", "plexus")], "plexus", "0")

    def make() -> list[bytes]:
        spans: list[bytes] = []
        for record, trace in finished:
            spans += encode_spans(record, trace, {"openai": "openai"})
        return spans

    spans = make()
    made = _best(make, 20) / BATCH
    body = _best(lambda: encoder.body(spans), 20) / BATCH
    size = len(encoder.body(spans)) / BATCH
    print(f"request path (context, attempt span id, headers): {on_path - untraced:6.2f} µs")
    print(f"worker: hand the context on at the end:           {reduced:6.2f} µs")
    print(f"worker: encode record + context for the recorder: {sent:6.2f} µs")
    print(f"recorder: make a request's 2 spans, encoded:     {made:6.2f} µs")
    print(f"recorder: put them in a body (batch of {BATCH}):     {body:6.2f} µs")
    print(f"OTLP bytes per request:                          {size:6.0f}")


if __name__ == "__main__":
    main()
