"""Traces (platform.md 4): one OpenTelemetry span per request, exported over OTLP/HTTP.

On the request path, `Tracer.begin` reads the client's `traceparent` (context.py), each
attempt at a target gets a child span id for the upstream's `traceparent`
(`TraceContext.begin_attempt`), and `Tracer.finished` stamps a sampled request's context, which
the worker hands as is, with the request's record, to its recorder process (recorder/). There
the spans (span.py) and their protobuf body (otlp.py) are made and exported (export.py), out of
the worker's way. With tracing off there is no tracer and none of this runs.
"""
