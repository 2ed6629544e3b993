"""Traces (platform.md 4): one OpenTelemetry span per request, exported over OTLP/HTTP.

On the request path, `Tracer.begin` reads the client's `traceparent` (context.py), each
attempt at a target gets a child span id for the upstream's `traceparent`
(`TraceContext.begin_attempt`), and `Tracer.finish` hands the finished request's record (its
trail has the attempts' outcomes) to the exporter's buffer (export.py); the spans themselves
(span.py) and their protobuf body (otlp.py) are made off the request path, by the exporter's
background task. With tracing off there is no tracer and none of this runs.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from plexus.config import Config, TracingConfig
from plexus.http import Scope
from plexus.ledger.record import UsageRecord
from plexus.routes import Route
from plexus.tracing.context import Sampler, TraceContext, new_context, parse_traceparent
from plexus.tracing.export import Exporter
from plexus.tracing.otlp import Encoder
from plexus.tracing.span import Attributes, provider_names
from plexus.upstream.client import Upstream

__all__ = ["TraceContext", "Tracer", "open_tracer", "parse_traceparent"]


class Tracer:
    """Starts a trace context per request and exports the spans of those sampled."""

    def __init__(self, config: TracingConfig) -> None:
        self._sampler = Sampler(config.sample_ratio)
        plexus_version = _version()
        resource: Attributes = [
            ("service.name", config.service_name),
            ("service.version", plexus_version),
            ("telemetry.sdk.name", "plexus"),
            ("telemetry.sdk.language", "python"),
            ("telemetry.sdk.version", plexus_version),
        ]
        self.exporter = Exporter(
            config.endpoint,
            config.headers,
            Encoder(resource, "plexus", plexus_version),
            queue_requests=config.queue_requests,
            batch_requests=config.batch_requests,
            flush_seconds=config.flush_seconds,
            timeout=config.timeout,
        )

    def configure(self, config: Config) -> None:
        """Take a (re)loaded config's providers, for gen_ai.provider.name."""
        self.exporter.providers = provider_names(config)

    def start(self, upstream: Upstream) -> None:
        """Start the exporter's task, which sends through `upstream`."""
        self.exporter.start(upstream)

    async def close(self) -> None:
        """Export what is buffered within a few seconds; stop the exporter."""
        await self.exporter.close()

    def begin(self, scope: Scope, headers: dict[str, str], route: Route | None) -> TraceContext:
        """The trace context of a request that just arrived."""
        scheme = scope.get("scheme", "http")
        return new_context(headers, self._sampler, scope["method"], scope["path"], scheme, route)

    def finish(self, record: UsageRecord, context: TraceContext, started: float) -> None:
        """Queue the spans of a finished request that arrived at `perf_counter()` `started`,
        if its trace is sampled (never blocks)."""
        if context.sampled:
            self.exporter.add((record, context, started))


def open_tracer(config: Config) -> Tracer | None:
    """The tracer of a config, not started and without providers yet (`configure`); None when
    tracing is off."""
    return Tracer(config.tracing) if config.tracing.endpoint else None


def _version() -> str:
    try:
        return version("plexus")
    except PackageNotFoundError:
        return "unknown"
