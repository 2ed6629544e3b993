"""One HTTP exchange as the app sees it, and the `UsageRecord` it ends in (the log line, the
usage row, the metrics and the trace are all made from that record)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from plexus import http, ir
from plexus.call import Attempt, ClientRequest, Outcome, ResponseWriter
from plexus.cut_stream import estimated_usage
from plexus.errors import GatewayError
from plexus.ledger.record import UsageRecord
from plexus.limits.limiter import Ticket
from plexus.pricing import PriceBook
from plexus.routes import Route
from plexus.tracing.context import TraceContext

CLIENT_CLOSED = 499  # the status of an answer the client left before its end (nginx's)


@dataclass(slots=True)
class Exchange:
    """What one HTTP exchange got as far as (written only by the app)."""

    route: Route | None
    api: ir.ApiType
    headers: dict[str, str]
    request_id: str
    writer: ResponseWriter
    scope: http.Scope
    started: float = field(default_factory=time.perf_counter)
    wall: float = field(default_factory=time.time)
    key: str = ""  # the name of the gateway key presented
    request: ClientRequest | None = None
    trail: list[Attempt] = field(default_factory=list)
    outcome: Outcome | None = None
    watch: http.CancelOnDisconnect | None = None
    trace: TraceContext | None = None  # when tracing is on
    ticket: Ticket | None = None  # what the request took from its limits, settled at its end


def make_record(
    exchange: Exchange, error: GatewayError | str | None, prices: PriceBook
) -> UsageRecord:
    """The exchange's record: who asked what, what served it, what it used and cost, how long
    it took."""
    now = time.perf_counter()
    request, writer, outcome = exchange.request, exchange.writer, exchange.outcome
    last = exchange.trail[-1] if exchange.trail else None
    usage = outcome.usage if outcome is not None else None
    duration = now - exchange.started
    first_byte = writer.first_byte
    first_token = outcome.first_token if outcome is not None else None
    first_token = first_token or (first_byte if writer.status < 400 else None)
    waited = outcome.upstream_seconds if outcome is not None else None
    record = UsageRecord(
        request_id=exchange.request_id,
        time=exchange.wall,
        key=exchange.key,
        client_api=exchange.api,
        route=exchange.route.kind if exchange.route is not None else "unknown",
        alias=request.model if request is not None else "",
        provider=last.provider if last else "",
        upstream_model=last.model if last else "",
        passthrough=outcome.passthrough if outcome is not None else False,
        stream=request.stream if request is not None else False,
        attempts=len(exchange.trail),
        status=writer.status,
        error_kind=_kind(error),
        finish_reason=outcome.stop_reason if outcome is not None else None,
        ttfb_ms=_ms(first_byte - exchange.started) if first_byte is not None else None,
        ttft_ms=_ms(first_token - exchange.started) if first_token is not None else None,
        duration_ms=_ms(duration),
        overhead_ms=_ms(duration - waited) if waited is not None else None,
        user_agent=exchange.headers.get("user-agent"),
        trail=exchange.trail,
    )
    if usage is not None:
        record.input_tokens = usage.input_tokens
        record.output_tokens = usage.output_tokens
        record.cache_read_tokens = usage.cache_read_tokens
        record.cache_write_tokens = usage.cache_write_tokens
        record.reasoning_tokens = usage.reasoning_tokens
        if last is not None:
            priced = prices.cost(last.provider, last.model, usage)
            record.cost_usd, record.cost_source = priced.usd, priced.source
    elif _unreported(exchange) and request is not None and last is not None:
        # The answer began but its usage never came (a stream cut by either side, a provider
        # that reports none): the provider still bills it, so it is estimated, the input from
        # the body, a stream's output from what went out, and the row says so.
        estimate = estimated_usage(request.codec, request.body, writer.sent, writer.last_sent)
        record.input_tokens = estimate.input_tokens
        record.output_tokens = estimate.output_tokens if writer.sent else None
        record.cache_read_tokens = estimate.cache_read_tokens
        record.cache_write_tokens = estimate.cache_write_tokens
        record.reasoning_tokens = estimate.reasoning_tokens
        record.tokens_estimated = True
        priced = prices.cost(last.provider, last.model, estimate)
        record.cost_usd, record.cost_source = priced.usd, priced.source
    return record


def _unreported(exchange: Exchange) -> bool:
    """Whether a generation's answer began without the usage the provider bills by."""
    route, writer = exchange.route, exchange.writer
    began = writer.started and (writer.status < 400 or writer.status == CLIENT_CLOSED)
    return began and route is not None and route.kind in ("generate", "completions")


def log_fields(record: UsageRecord, error: GatewayError | str | None) -> dict[str, Any]:
    """The access log line of a record (the keys the line has always had, and more)."""
    fields: dict[str, Any] = {
        "request_id": record.request_id,
        "client_api": record.client_api,
        "model": record.alias,
        "provider": record.provider,
        "upstream_model": record.upstream_model,
        "status": record.status,
        "stream": record.stream,
        "latency_ms": record.duration_ms,
        "usage": _usage(record),
    }
    if record.route != "generate":
        fields["operation"] = record.route
    if record.key:
        fields["key"] = record.key
    if record.ttfb_ms is not None and record.stream:
        fields["ttfb_ms"] = record.ttfb_ms
    if record.attempts > 1:
        fields["attempts"] = record.attempts
    if record.cost_usd is not None:
        fields["cost_usd"] = record.cost_usd
    if isinstance(error, GatewayError):
        fields["error"] = error.message
        if error.detail:
            fields["error_detail"] = error.detail
    elif error is not None:
        fields["error"] = error
    return fields


def _usage(record: UsageRecord) -> dict[str, Any] | None:
    if record.input_tokens is None and record.output_tokens is None:
        return None
    usage: dict[str, Any] = msgspec.to_builtins(
        ir.Usage(
            input_tokens=record.input_tokens or 0,
            output_tokens=record.output_tokens or 0,
            cache_read_tokens=record.cache_read_tokens or 0,
            cache_write_tokens=record.cache_write_tokens or 0,
            reasoning_tokens=record.reasoning_tokens,
        )
    )
    return usage


def _kind(error: GatewayError | str | None) -> str | None:
    if isinstance(error, GatewayError):
        return error.kind
    return "client_disconnected" if error is not None else None


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
