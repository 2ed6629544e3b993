"""The worker's side of tracing: a trace context per request, handed on at its end."""

from __future__ import annotations

from plexus.config import Config, TracingConfig
from plexus.http import Scope
from plexus.protocols import codec_for
from plexus.routes import Route
from plexus.tracing.context import Sampler, TraceContext, new_context, parse_traceparent

__all__ = ["TraceContext", "Tracer", "open_tracer", "parse_traceparent"]


class Tracer:
    """Starts a trace context per request; hands on the sampled ones at their end."""

    def __init__(self, config: TracingConfig) -> None:
        self._sampler = Sampler(config.sample_ratio)

    def begin(self, scope: Scope, headers: dict[str, str]) -> TraceContext:
        """The trace context of a request that just arrived."""
        scheme = scope.get("scheme", "http")
        return new_context(headers, self._sampler, scope["method"], scope["path"], scheme)

    @staticmethod
    def finished(context: TraceContext, started: float, route: Route | None) -> TraceContext | None:
        """The context of a request that arrived at `perf_counter()` `started` and took
        `route`, for the recorder to make its spans; None when its trace is not sampled."""
        if not context.sampled:
            return None
        context.started = started
        context.operation = _operation(route)
        context.http_route = _http_route(route, context.path)
        return context


def open_tracer(config: Config) -> Tracer | None:
    """The tracer of a config; None when tracing is off."""
    return Tracer(config.tracing) if config.tracing.endpoint else None


def _operation(route: Route | None) -> str | None:
    """gen_ai.operation.name of the request's route; None for the gateway's other routes."""
    if route is None:
        return None
    match route.kind:
        case "generate":
            return codec_for(route.api).TRANSPORT.operation
        case "embeddings":
            return "embeddings"
        case "completions":
            return "text_completion"
        case _:
            return None


def _http_route(route: Route | None, path: str) -> str | None:
    """The matched route as a template (a model in the path as `{model}`), if one matched."""
    if route is None:
        return None
    if route.model:
        return path.replace(route.model, "{model}", 1)
    return path
