"""Traces: W3C traceparent handling, the tracing config, and spans exported over OTLP/HTTP to a
real receiver, decoded with the official opentelemetry-proto package."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from plexus.app import Gateway
from plexus.config import ConfigError, parse_config
from plexus.tracing import otlp
from plexus.tracing.context import Sampler, new_context
from plexus.tracing.span import Attributes, provider_names
from plexus.tracing.tracer import parse_traceparent
from tests.conftest import Upstreams, run_gateway, serve_app
from tests.mocks.base import Reply

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
PROMPT = "Tell me about the quokka-zebra-4417, please."
ANSWER = "The walrus-9931 knows."


# --- traceparent -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        f"00-{TRACE}-{PARENT_SPAN}-01",
        f"  00-{TRACE}-{PARENT_SPAN}-00\t",  # optional whitespace around the value
        f"01-{TRACE}-{PARENT_SPAN}-01-what-a-later-version-adds",  # read as version 00
        f"cc-{TRACE}-{PARENT_SPAN}-09",
    ],
)
def test_valid_traceparents_name_their_parent(header: str) -> None:
    parent = parse_traceparent(header)
    assert parent is not None
    assert (parent.trace_id, parent.span_id) == (bytes.fromhex(TRACE), int(PARENT_SPAN, 16))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"00-{TRACE}-{PARENT_SPAN}",  # no flags
        f"00-{TRACE.upper()}-{PARENT_SPAN}-01",  # uppercase hex
        f"00-{'0' * 32}-{PARENT_SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero span id
        f"ff-{TRACE}-{PARENT_SPAN}-01",  # the forbidden version
        f"00-{TRACE}-{PARENT_SPAN}-01-extra",  # version 00 has nothing after the flags
        f"01-{TRACE}-{PARENT_SPAN}-01extra",  # a later version's fields follow a dash
        f"00_{TRACE}_{PARENT_SPAN}_01",
        f"00-{TRACE[:-1]}g-{PARENT_SPAN}-01",
        f"00-{TRACE}-{PARENT_SPAN}-0x",
        f"0-{TRACE}-{PARENT_SPAN}-01x",
    ],
)
def test_invalid_traceparents_are_ignored(header: str | None) -> None:
    assert parse_traceparent(header) is None


def _context(headers: dict[str, str], ratio: float = 1.0) -> Any:
    return new_context(headers, Sampler(ratio), "POST", "/v1/chat/completions", "http")


def test_a_request_continues_its_callers_trace() -> None:
    headers = {"traceparent": f"00-{TRACE}-{PARENT_SPAN}-01", "tracestate": "congo=t61rcWkgMzE"}
    context = _context(headers)
    assert context.trace_id.hex() == TRACE
    assert f"{context.parent_span_id:016x}" == PARENT_SPAN
    assert context.span_id not in (0, int(PARENT_SPAN, 16))
    assert context.upstream_headers() == (
        ("traceparent", f"00-{TRACE}-{context.span_id:016x}-01"),
        ("tracestate", "congo=t61rcWkgMzE"),
    )


def test_an_invalid_parent_starts_a_new_trace_and_drops_tracestate() -> None:
    context = _context({"traceparent": f"00-{'0' * 32}-{PARENT_SPAN}-01", "tracestate": "a=b"})
    assert context.trace_id != bytes(16) and context.parent_span_id == 0
    assert context.upstream_headers() == (("traceparent", context.traceparent),)


def test_sampling_is_parent_based() -> None:
    sampled, unsampled = f"00-{TRACE}-{PARENT_SPAN}-01", f"00-{TRACE}-{PARENT_SPAN}-00"
    assert _context({"traceparent": sampled}, ratio=0.0).sampled
    assert not _context({"traceparent": unsampled}, ratio=1.0).sampled
    assert _context({"traceparent": unsampled}).traceparent.endswith("-00")
    assert not any(_context({}, ratio=0.0).sampled for _ in range(200))
    assert all(_context({}, ratio=1.0).sampled for _ in range(200))
    kept = sum(_context({}, ratio=0.25).sampled for _ in range(4000))
    assert 800 < kept < 1200


# --- config ------------------------------------------------------------------------------------


@pytest.fixture
def no_otel_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_SERVICE_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_tracing_is_off_by_default(no_otel_env: pytest.MonkeyPatch) -> None:
    tracing = parse_config({}).tracing
    assert (tracing.endpoint, tracing.headers, tracing.service_name) == ("", {}, "plexus")


def test_tracing_reads_the_standard_environment(no_otel_env: pytest.MonkeyPatch) -> None:
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcr%2Cet, bad ,X-Team = a ")
    no_otel_env.setenv("OTEL_SERVICE_NAME", "gateway-eu")
    tracing = parse_config({}).tracing
    assert tracing.endpoint == "http://collector:4318/v1/traces"
    assert tracing.headers == {"api-key": "s=cr,et", "x-team": "a"}
    assert tracing.service_name == "gateway-eu"
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces.example/v1/t")
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "authorization=Basic%20x")
    tracing = parse_config({}).tracing
    assert tracing.endpoint == "https://traces.example/v1/t"
    assert tracing.headers == {"authorization": "Basic x"}
    # The file wins over the environment, as code wins over it in OTel SDKs.
    tracing = parse_config({"tracing": {"endpoint": "", "headers": {}}}).tracing
    assert (tracing.endpoint, tracing.headers) == ("", {})


def test_tracing_config_problems_name_their_path(no_otel_env: pytest.MonkeyPatch) -> None:
    bad: dict[str, Any] = {
        "tracing": {"endpoint": "collector:4318", "headers": {"x": "a\nb"}, "sample_ratio": 0.5}
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(bad)
    assert caught.value.problems == [
        "tracing.endpoint: expected an http(s) URL, not 'collector:4318'",
        "tracing.headers.x: line breaks are not allowed in a header",
    ]
    for field_name, value in (("sample_ratio", 1.5), ("batch_requests", 0), ("timeout", -1)):
        with pytest.raises(ConfigError) as caught:
            parse_config({"tracing": {field_name: value}})
        assert caught.value.problems[0].startswith(f"tracing.{field_name}: Expected")


def test_provider_names_follow_the_genai_registry(no_otel_env: pytest.MonkeyPatch) -> None:
    config = parse_config(
        {
            "providers": {
                "oai": {"preset": "openai"},
                "claude": {"preset": "anthropic"},
                "google": {"preset": "gemini"},
                "vertex": {"vertex": {"project": "p", "location": "us-central1"}},
                "ds": {"preset": "deepseek"},
                "local": {"preset": "ollama"},
            }
        }
    )
    assert provider_names(config) == {
        "oai": "openai",
        "claude": "anthropic",
        "google": "gcp.gemini",
        "vertex": "gcp.vertex_ai",
        "ds": "deepseek",
        "local": "local",
    }


# --- OTLP encoding ------------------------------------------------------------------------------


def test_attributes_decode_as_encoded_whether_known_or_new(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otlp, "_KNOWN_LIMIT", 3)  # emptied between rounds too
    attributes: Attributes = [
        ("gen_ai.request.model", "chat-model"),
        ("gen_ai.request.stream", True),
        ("plexus.passthrough", False),
        ("gen_ai.usage.input_tokens", 300),
        ("plexus.delta", -2),
        ("plexus.ttfb_ms", 1.25),
        ("gen_ai.response.finish_reasons", ("end", "length")),
        ("plexus.request_id", "r-1"),
        ("plexus.text", "é" * 200),  # a length past one varint byte
    ]
    for _ in range(3):
        resource = Resource()
        resource.ParseFromString(otlp.encode_attributes(attributes, b"\x0a"))
        assert list(_attributes(resource.attributes).items()) == [
            (key, list(value) if isinstance(value, tuple) else value) for key, value in attributes
        ]


# --- export end to end -------------------------------------------------------------------------


@dataclass
class Collector:
    """A real OTLP/HTTP receiver: what it was sent, and what it answers."""

    url: str = ""
    bodies: list[bytes] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    delay: float = 0.0
    posts: int = 0

    def spans(self) -> list[Span]:
        found: list[Span] = []
        for body in self.bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                service = _attributes(resource.resource.attributes)["service.name"]
                assert service == "plexus"
                for scope in resource.scope_spans:
                    assert scope.scope.name == "plexus"
                    found.extend(scope.spans)
        return found


@asynccontextmanager
async def collector() -> AsyncIterator[Collector]:
    """Serve a `Collector` on a loopback port."""
    received = Collector()

    async def export(request: web.Request) -> web.Response:
        received.posts += 1
        if received.delay:
            await asyncio.sleep(received.delay)
        if received.statuses:
            return web.Response(status=received.statuses.pop(0), headers={"Retry-After": "0"})
        received.content_types.append(request.content_type)
        received.authorizations.append(request.headers.get("authorization"))
        received.bodies.append(await request.read())
        answer = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=answer, content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", export)
    async with serve_app(app) as url:
        received.url = url + "/v1/traces"
        yield received


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, str(kind))


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _tracing(otlp: Collector, **extra: Any) -> dict[str, Any]:
    return {"tracing": {"endpoint": otlp.url, "flush_seconds": 0.05, **extra}}


async def _metric(url: str, name: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as answer:
        for line in (await answer.text()).splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def _until(check: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _send_every_kind(url: str, upstreams: Upstreams) -> None:
    """Chat and Messages clients, streamed and not, passed through and translated, a caller's
    trace sampled and not, an upstream failure and a client's mistake; request ids name them."""
    hi: Any = [{"role": "user", "content": PROMPT}]
    chat = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
    claude = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
    traced = {"traceparent": f"00-{TRACE}-{PARENT_SPAN}-01", "tracestate": "congo=t61rcWkgMzE"}
    await chat.chat.completions.create(
        model="chat-model", messages=hi, extra_headers={"x-request-id": "chat", **traced}
    )
    stream = await chat.chat.completions.create(
        model="messages-model",
        messages=hi,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-request-id": "chat-stream", **traced},
    )
    async for _ in stream:
        pass
    for model, request_id in (("messages-model", "msg"), ("chat-model", "msg-translated")):
        await claude.messages.create(
            model=model, max_tokens=64, messages=hi, extra_headers={"x-request-id": request_id}
        )
    for model, request_id in (("chat-model", "msg-stream"), ("messages-model", "msg-pass-stream")):
        async with claude.messages.stream(
            model=model, max_tokens=64, messages=hi, extra_headers={"x-request-id": request_id}
        ) as streamed:
            await streamed.get_final_message()
    unsampled = {"traceparent": f"00-{TRACE}-{PARENT_SPAN}-00", "x-request-id": "unsampled"}
    await chat.chat.completions.create(model="chat-model", messages=hi, extra_headers=unsampled)
    upstreams.states["chat"].reply = Reply(error_status=500)
    with pytest.raises(openai.InternalServerError):
        await chat.chat.completions.create(
            model="chat-model", messages=hi, extra_headers={"x-request-id": "failed"}
        )
    with pytest.raises(openai.NotFoundError):
        await chat.chat.completions.create(
            model="nope", messages=hi, extra_headers={"x-request-id": "unknown"}
        )


async def test_a_span_per_request_and_per_upstream_call(upstreams: Upstreams) -> None:
    for state in upstreams.states.values():
        state.reply = Reply(text=ANSWER, input_tokens=30, cached_tokens=10, output_tokens=7)
    async with collector() as otlp:
        gateway = Gateway(upstreams.config(_tracing(otlp)))
        async with run_gateway(gateway.config, gateway) as url:
            await _send_every_kind(url, upstreams)

            async def exported() -> bool:
                return await _metric(url, "plexus_trace_spans_exported_total") == 15

            await _until(exported)
            assert await _metric(url, "plexus_trace_spans_dropped_total") == 0
    payload = b"".join(otlp.bodies)
    assert PROMPT.encode() not in payload and ANSWER.encode() not in payload
    assert b"upstream-key" not in payload
    assert set(otlp.content_types) == {"application/x-protobuf"}
    everything = otlp.spans()
    servers = [s for s in everything if s.kind == Span.SPAN_KIND_SERVER]
    spans = {_attributes(s.attributes)["plexus.request_id"]: s for s in servers}
    called = ["chat", "chat-stream", "failed", "msg", "msg-pass-stream", "msg-stream"]
    called.append("msg-translated")
    assert sorted(spans) == [*called, "unknown"]
    for span in everything:
        assert 0 < span.end_time_unix_nano - span.start_time_unix_nano < 10**10
        assert abs(span.start_time_unix_nano / 1e9 - time.time()) < 60
    calls = _calls(spans, everything)
    assert sorted(calls) == called
    _check_trace_goes_on(spans, calls, upstreams)
    _check_attributes(spans)
    _check_calls(spans, calls)
    _check_statuses(spans, calls)


def _calls(servers: dict[str, Span], spans: list[Span]) -> dict[str, Span]:
    """The one CLIENT span of each request that called out, by request id: a child of the
    request's span, inside it in time."""
    calls: dict[str, Span] = {}
    for span in spans:
        if span.kind == Span.SPAN_KIND_SERVER:
            continue
        assert span.kind == Span.SPAN_KIND_CLIENT
        (name,) = [n for n, s in servers.items() if s.span_id == span.parent_span_id]
        server = servers[name]
        assert span.trace_id == server.trace_id and name not in calls
        assert server.start_time_unix_nano <= span.start_time_unix_nano
        assert span.end_time_unix_nano <= server.end_time_unix_nano
        calls[name] = span
    return calls


def _check_trace_goes_on(
    spans: dict[str, Span], calls: dict[str, Span], upstreams: Upstreams
) -> None:
    """The caller's trace goes on: its trace id, its span as parent, its tracestate; and into
    the providers, each call's span as their parent."""
    for name in ("chat", "chat-stream"):
        span = spans[name]
        assert span.trace_id.hex() == TRACE and span.parent_span_id.hex() == PARENT_SPAN
        assert span.trace_state == "congo=t61rcWkgMzE"
        assert span.flags == 0x301  # sampled, with a remote parent
        assert calls[name].flags == 0x101  # sampled, with a local parent
    assert spans["msg"].trace_id.hex() != TRACE and not spans["msg"].parent_span_id
    assert spans["msg"].flags == 0x01
    sent = [
        {k.lower(): v for k, v in r.headers.items()}
        for state in upstreams.states.values()
        for r in state.received
    ]
    assert all(h["traceparent"] for h in sent)
    parents = {h["traceparent"] for h in sent}
    for call in calls.values():
        assert f"00-{call.trace_id.hex()}-{call.span_id.hex()}-01" in parents
    upstream = [h for h in sent if h["traceparent"].split("-")[1] == TRACE]
    assert len(upstream) == 3 and sum(h["traceparent"].endswith("-00") for h in upstream) == 1
    assert [h.get("tracestate") for h in upstream].count("congo=t61rcWkgMzE") == 2


def _check_attributes(spans: dict[str, Span]) -> None:
    plain = _attributes(spans["chat"].attributes)
    assert spans["chat"].name == "chat chat-model"
    assert {k: v for k, v in plain.items() if k.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "chat-model",
        "gen_ai.provider.name": "mock-chat",
        "gen_ai.response.model": "up-chat",
        "gen_ai.request.stream": False,
        "gen_ai.usage.input_tokens": 30,  # the cached 10 included, as the convention counts
        "gen_ai.usage.cache_read.input_tokens": 10,
        "gen_ai.usage.output_tokens": 7,
    }
    assert plain["http.request.method"] == "POST"
    assert plain["http.route"] == plain["url.path"] == "/v1/chat/completions"
    assert plain["http.response.status_code"] == 200
    assert plain["user_agent.original"].startswith("AsyncOpenAI/Python")
    assert plain["plexus.provider"] == "mock-chat" and plain["plexus.passthrough"] is True
    assert plain["plexus.attempts"] == 1 and plain["plexus.ttft_ms"] > 0
    streamed = _attributes(spans["msg-stream"].attributes)
    assert spans["msg-stream"].name == "chat chat-model"
    assert streamed["gen_ai.request.stream"] is True
    assert streamed["gen_ai.response.finish_reasons"] == ["end"]
    assert streamed["gen_ai.usage.output_tokens"] == 7
    assert streamed["plexus.client_api"] == "messages" and not streamed["plexus.passthrough"]
    assert streamed["http.route"] == "/v1/messages"
    translated = _attributes(spans["msg-translated"].attributes)
    assert (
        translated["plexus.passthrough"] is False and translated["plexus.provider"] == "mock-chat"
    )
    assert translated["gen_ai.usage.input_tokens"] == 30
    assert translated["gen_ai.usage.output_tokens"] == 7
    relayed = _attributes(spans["msg-pass-stream"].attributes)
    assert relayed["plexus.passthrough"] is True and relayed["gen_ai.request.stream"] is True
    assert relayed["gen_ai.usage.output_tokens"] == 7


def _check_calls(spans: dict[str, Span], calls: dict[str, Span]) -> None:
    """An upstream call's span: the target's provider and model, and what it answered."""
    call = calls["chat-stream"]
    assert call.name == "chat up-messages"
    assert _attributes(call.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "mock-messages",
        "gen_ai.request.model": "up-messages",
        "gen_ai.response.model": "up-messages",
        "gen_ai.response.finish_reasons": ["end"],
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.cache_read.input_tokens": 10,
        "gen_ai.usage.output_tokens": 7,
        "http.response.status_code": 200,
        "plexus.provider": "mock-messages",
        "plexus.attempt": 1,
    }
    assert call.status.code == Status.STATUS_CODE_UNSET


def _check_statuses(spans: dict[str, Span], calls: dict[str, Span]) -> None:
    assert spans["chat"].status.code == Status.STATUS_CODE_UNSET
    failed = spans["failed"]
    assert failed.status.code == Status.STATUS_CODE_ERROR
    assert failed.status.message == _attributes(failed.attributes)["error.type"]
    assert _attributes(failed.attributes)["http.response.status_code"] == 500
    call = _attributes(calls["failed"].attributes)
    assert calls["failed"].status.code == Status.STATUS_CODE_ERROR
    assert call["error.type"] == calls["failed"].status.message == "api_error"
    assert call["http.response.status_code"] == 500
    assert "gen_ai.response.model" not in call and "gen_ai.usage.output_tokens" not in call
    unknown = spans["unknown"]  # a client's mistake: not the server's error
    assert unknown.status.code == Status.STATUS_CODE_UNSET
    assert _attributes(unknown.attributes)["plexus.error_kind"] == "not_found"
    assert "gen_ai.provider.name" not in _attributes(unknown.attributes)


async def test_a_gemini_span_names_its_operation_and_route_template(upstreams: Upstreams) -> None:
    async with collector() as otlp:
        gateway = Gateway(upstreams.config(_tracing(otlp)))
        async with run_gateway(gateway.config, gateway) as url, aiohttp.ClientSession() as session:
            body = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}
            path = "/v1beta/models/gemini-model:generateContent"
            async with session.post(url + path, json=body) as answer:
                assert answer.status == 200
    span, call = otlp.spans()
    assert call.name == "generate_content up-gemini" and call.parent_span_id == span.span_id
    attributes = _attributes(span.attributes)
    assert span.name == "generate_content gemini-model"
    assert attributes["gen_ai.operation.name"] == "generate_content"
    assert attributes["http.route"] == "/v1beta/models/{model}:generateContent"
    assert attributes["url.path"] == path


async def test_a_failed_attempt_and_its_fallback_are_two_calls(upstreams: Upstreams) -> None:
    upstreams.states["chat"].reply = Reply(error_status=503)
    upstreams.states["messages"].reply = Reply(input_tokens=12, output_tokens=5)
    targets = [
        {"provider": "mock-chat", "model": "first"},
        {"provider": "mock-messages", "model": "second"},
    ]
    async with collector() as otlp:
        both = {"targets": targets, "selector": "in_order"}
        extra = {**_tracing(otlp), "models": {"both": both}}
        gateway = Gateway(upstreams.config(extra))
        async with run_gateway(gateway.config, gateway) as url:
            client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
            stream = await client.chat.completions.create(
                model="both", messages=[{"role": "user", "content": PROMPT}], stream=True
            )
            async for _ in stream:
                pass
    # Closing the gateway exported what was buffered.
    server, failed, served = otlp.spans()
    assert failed.parent_span_id == served.parent_span_id == server.span_id
    assert failed.end_time_unix_nano <= served.start_time_unix_nano
    first, second = _attributes(failed.attributes), _attributes(served.attributes)
    assert (first["gen_ai.request.model"], first["plexus.attempt"]) == ("first", 1)
    assert (first["error.type"], first["http.response.status_code"]) == ("overloaded", 503)
    assert failed.status.code == Status.STATUS_CODE_ERROR
    assert (second["gen_ai.request.model"], second["plexus.attempt"]) == ("second", 2)
    assert second["gen_ai.usage.output_tokens"] == 5 and "error.type" not in second
    assert _attributes(server.attributes)["plexus.attempts"] == 2
    assert server.status.code == Status.STATUS_CODE_UNSET
    (to_first,) = upstreams.states["chat"].received
    (to_second,) = upstreams.states["messages"].received
    trace = server.trace_id.hex()
    assert to_first.headers["traceparent"] == f"00-{trace}-{failed.span_id.hex()}-01"
    assert to_second.headers["traceparent"] == f"00-{trace}-{served.span_id.hex()}-01"


async def test_a_target_refused_before_any_call_has_no_span(upstreams: Upstreams) -> None:
    chat = upstreams.config().providers["mock-chat"]
    completing = {"type": "chat", "api_base_url": chat.api_base_url, "completions": True}
    targets = [
        {"provider": "mock-messages", "model": "refused"},  # no text completions there
        {"provider": "mock-chat", "model": "served"},
    ]
    async with collector() as otlp:
        extra = {
            **_tracing(otlp),
            "providers": {"mock-chat": {**completing, "api_key": "upstream-key"}},
            "models": {"fim": {"targets": targets, "selector": "in_order"}},
        }
        gateway = Gateway(upstreams.config(extra))
        async with run_gateway(gateway.config, gateway) as url:
            client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
            await client.completions.create(model="fim", prompt="def add(a, b):")
    server, call = otlp.spans()
    assert _attributes(server.attributes)["plexus.attempts"] == 2
    assert _attributes(server.attributes)["gen_ai.operation.name"] == "text_completion"
    called = _attributes(call.attributes)
    assert (called["gen_ai.request.model"], called["plexus.attempt"]) == ("served", 2)
    assert call.parent_span_id == server.span_id and "error.type" not in called
    (received,) = upstreams.states["chat"].received
    assert received.headers["traceparent"].split("-")[2] == call.span_id.hex()


async def test_spans_name_the_key_never_a_secret(upstreams: Upstreams) -> None:
    secret = "sk-gateway-6f1e2d"
    async with collector() as otlp:
        tracing = _tracing(otlp, headers={"authorization": "Bearer collector-token"})
        extra = {**tracing, "keys": {"team-a": {"secret": secret}}}
        gateway = Gateway(upstreams.config(extra))
        async with run_gateway(gateway.config, gateway) as url:
            client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=secret, max_retries=0)
            await client.chat.completions.create(
                model="chat-model", messages=[{"role": "user", "content": PROMPT}]
            )
    server, _call = otlp.spans()
    assert _attributes(server.attributes)["plexus.key"] == "team-a"
    assert otlp.authorizations == ["Bearer collector-token"]  # the configured headers
    payload = b"".join(otlp.bodies)
    assert secret.encode() not in payload and b"upstream-key" not in payload


async def test_unsampled_traces_export_nothing_but_go_on_upstream(upstreams: Upstreams) -> None:
    async with collector() as otlp:
        gateway = Gateway(upstreams.config(_tracing(otlp, sample_ratio=0)))
        async with run_gateway(gateway.config, gateway) as url:
            client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
            hi: Any = [{"role": "user", "content": "hi"}]
            for _ in range(5):
                await client.chat.completions.create(model="chat-model", messages=hi)
            # A caller's sampled trace is recorded whatever the ratio (parent-based).
            sampled = {"traceparent": f"00-{TRACE}-{PARENT_SPAN}-01"}
            await client.chat.completions.create(
                model="chat-model", messages=hi, extra_headers=sampled
            )
    spans = otlp.spans()
    assert len(spans) == 2 and {span.trace_id.hex() for span in spans} == {TRACE}
    parents = [r.headers["traceparent"] for r in upstreams.states["chat"].received]
    assert len({p.split("-")[1] for p in parents}) == 6  # a trace id each, passed on
    assert [p.endswith("-00") for p in parents] == [True] * 5 + [False]


async def test_no_trace_header_goes_upstream_when_tracing_is_off(
    upstreams: Upstreams, gateway: str
) -> None:
    client = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="k", max_retries=0)
    traced = {"traceparent": f"00-{TRACE}-{PARENT_SPAN}-01"}
    await client.chat.completions.create(
        model="chat-model", messages=[{"role": "user", "content": "hi"}], extra_headers=traced
    )
    (received,) = upstreams.states["chat"].received
    assert "traceparent" not in {name.lower() for name in received.headers}


async def test_a_refused_batch_is_retried_after_retry_after(upstreams: Upstreams) -> None:
    async with collector() as otlp:
        otlp.statuses = [503, 429]
        gateway = Gateway(upstreams.config(_tracing(otlp)))
        async with run_gateway(gateway.config, gateway) as url:
            client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
            await client.chat.completions.create(
                model="chat-model", messages=[{"role": "user", "content": "hi"}]
            )

            async def exported() -> bool:
                return await _metric(url, "plexus_trace_spans_exported_total") == 2

            await _until(exported)
    assert otlp.posts == 3 and len(otlp.spans()) == 2  # the request's and its call's


@pytest.mark.parametrize("receiver", ["down", "slow"])
async def test_requests_do_not_wait_for_the_collector(upstreams: Upstreams, receiver: str) -> None:
    async with collector() as otlp:
        otlp.delay = 1.0  # "slow": longer than the export timeout
        endpoint = otlp.url if receiver == "slow" else await _closed_port_url()
        tracing = {"endpoint": endpoint, "flush_seconds": 0.05, "timeout": 0.2}
        gateway = Gateway(upstreams.config({"tracing": {**tracing, "queue_requests": 2}}))
        async with run_gateway(gateway.config, gateway) as url:
            client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
            for _ in range(8):
                started = time.perf_counter()
                await client.chat.completions.create(
                    model="chat-model", messages=[{"role": "user", "content": "hi"}]
                )
                assert time.perf_counter() - started < 0.5
            # The queue holds 2 requests, the exporter took at most 2 before it got stuck: 4
            # requests dropped, of 2 spans each.

            async def dropped() -> bool:
                return await _metric(url, "plexus_trace_spans_dropped_total") >= 8

            await _until(dropped)
            stopping = time.perf_counter()
        assert time.perf_counter() - stopping < 3.5  # a stuck collector never holds shutdown
    recorder = gateway.recorder
    assert recorder is not None
    assert (recorder.spans_exported, recorder.spans_dropped) == (0, 16)
    assert not otlp.bodies


async def _closed_port_url() -> str:
    """The URL of a loopback port nothing listens on."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return f"http://127.0.0.1:{port}/v1/traces"


@pytest.mark.parametrize(
    "value", ["r-1", "", "é" * 200, 0.0, 1234.5678, -1.5, 0, 7, 300, 2**40, -1]
)
def test_an_attribute_of_a_known_key_encodes_as_any_attribute_does(value: Any) -> None:
    # The per-request attributes skip the general encoder's type dispatch; the bytes are the
    # same.
    key = f"plexus.some_{type(value).__name__}"  # a key's values are of one type
    if isinstance(value, str):
        fast = otlp.text_attribute(key)(value)
    elif isinstance(value, float):
        fast = otlp.float_attribute(key)(value)
    else:
        fast = otlp.int_attribute(key)(value)
    assert fast == otlp.encode_attributes([(key, value)], otlp.ATTRIBUTE_TAG)
