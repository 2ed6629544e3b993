"""The ASGI application: the route table, gateway keys, body limits, errors, the lifespan."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import structlog

from plexus import conversations, http, ir, log
from plexus.admin import AdminApi
from plexus.call import ClientRequest, ResponseWriter, read_request
from plexus.config import Config, config_secrets
from plexus.cors import Cors, cors_of
from plexus.count_tokens import count_tokens
from plexus.errors import (
    BadRequest,
    GatewayError,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
)
from plexus.exchange import CLIENT_CLOSED, Exchange, log_fields, make_record
from plexus.health import Health
from plexus.items import ItemStore
from plexus.ledger import store_backend
from plexus.ledger.key_rows import KeyRows
from plexus.ledger.migrate import SchemaTooNew
from plexus.ledger.readers import open_reader
from plexus.ledger.response_rows import open_response_store
from plexus.limits.gate import Gate
from plexus.limits.keys import HashedKey, KeyRing
from plexus.limits.limiter import Limiter
from plexus.limits.pool import LocalPool
from plexus.limits.spend import record_tokens, restore_spend
from plexus.limits.stored import StoredKeys
from plexus.media import MediaFetches, MediaLimits
from plexus.metrics import Metrics
from plexus.model_list import list_body, one_body
from plexus.pricing import PriceBook
from plexus.protocols import codec_for
from plexus.proxy import COMPLETE, EMBED, GENERATE, Proxy, Slots, Strategy
from plexus.recorder import open_recorder
from plexus.redact import Redactor
from plexus.reload import ConfigWatcher
from plexus.routes import Route, RouteKind, RouteTable
from plexus.routing import Router
from plexus.server import EdgeLimits
from plexus.services import Services
from plexus.tracing.span import provider_names
from plexus.tracing.tracer import Tracer, open_tracer
from plexus.ui import Dashboard
from plexus.upstream.client import Upstream

if TYPE_CHECKING:
    from plexus.shared.replica import Shared

_log = structlog.get_logger("plexus")
# A client's own x-request-id is kept up to this length (a UUID is 36): one of kilobytes would
# be echoed on the answer and stored on its usage row.
MAX_REQUEST_ID = 128
METRICS_CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


_Handler = Callable[["Gateway", Exchange, http.Receive], Awaitable[None]]


class Gateway:
    """The whole gateway as one ASGI callable; state lives here, built in the lifespan."""

    def __init__(
        self, config: Config, config_path: str | None = None, workers: int | None = None
    ) -> None:
        self.upstream = Upstream()
        # Request ids: this worker and a counter (a uuid4 costs more than the whole log line).
        self._id_prefix = f"{os.getpid():x}-{secrets.token_hex(3)}-"
        self._request_ids = itertools.count(1)
        self.health = Health()
        self.slots = Slots()
        self.dashboard = Dashboard()
        server = config.server
        self.media = MediaFetches(self.upstream, MediaLimits(), server.media_fetches)
        # The usage store, the traces, the Responses store and the metrics' place are fixed
        # at start (a reload keeps them). Rows and spans are recorded by a process of the
        # worker's own (recorder/).
        self.recorder = open_recorder(config)
        self.stores_usage = config.usage.database != "none"
        self.responses = open_response_store(config)
        self.services = Services(self.upstream, self.media, ItemStore(), self.responses)
        self.routes = RouteTable(answers=self.responses is not None)
        self._usage, self._data_dir = config.usage, server.data_dir
        self.metrics = Metrics(Path(server.data_dir) / "metrics")
        self.shared: Shared | None = None
        if server.redis_url:
            from plexus.shared.replica import Shared  # redis is imported only when used

            self.shared = Shared(server.redis_url, self.health)
        self._metrics_on = server.metrics
        self.tracer = open_tracer(config)
        self._snapshots: asyncio.Task[None] | None = None
        # Limits' counters outlive a reload. Without a shared pool each worker enforces its
        # share of every limit (limits/rules.py).
        self.workers = max(1, workers or server.workers)
        pool = self.shared.pool if self.shared is not None else LocalPool()
        self.limiter = Limiter(pool, window=server.limit_window)
        self._restoring: asyncio.Task[None] | None = None  # budgets' spend, after a reload
        self._started = False
        # Keys made through the admin API live in the usage store, beside the config's.
        reader = open_reader(config.usage, server.data_dir) if self.stores_usage else None
        self.stored_keys = StoredKeys(KeyRows(reader), self._apply_stored_keys) if reader else None
        self.watcher = ConfigWatcher(config_path, self.apply_config) if config_path else None
        self.apply_config(config)
        self.admin = AdminApi(self, config_path)
        self.events = self.admin.events

    def apply_config(self, config: Config) -> None:
        """Swap in a new config; requests in flight keep the router they started with."""
        self.config = config
        server = config.server
        upstream = self.upstream
        upstream.fetch_private = server.media_private_hosts
        upstream.set_limits(server.max_answer_bytes, server.max_connections_per_origin)
        upstream.redactor = Redactor(config_secrets(config))
        self.media.limits = MediaLimits(
            server.media_max_images,
            server.media_max_bytes,
            server.media_fetches_per_request,
            server.media_timeout,
        )
        self.router = Router(config, health=self.health)
        self.prices = PriceBook.from_config(config)
        self.limiter.window = server.limit_window
        self._build_gate()
        admit_provider = self.gate.admit_provider if self.gate.limits_providers else None
        self.proxy = Proxy(
            self.router, self.services, self.slots, server.max_attempts, admit_provider
        )
        if self.recorder is not None:
            self.recorder.configure(provider_names(config))
        self._restore_spend()

    def _build_gate(self) -> None:
        """The Gate of the config's keys and the stored ones. The API is open only when there
        is neither, and the store has not failed to say whether it holds any."""
        share = self.workers if isinstance(self.limiter.pool, LocalPool) else 1
        stored = self.stored_keys
        keyring = KeyRing.from_config(self.config.keys, stored.keys if stored else ())
        self.gate = Gate(self.config, self.limiter, keyring, share)
        self._open = keyring.empty and not (stored is not None and stored.unknown)
        self._cors = cors_of(self.config.server.cors_origins, self._open)

    def _apply_stored_keys(self, keys: list[HashedKey]) -> None:
        """Swap in the stored keys as last read (the config's stay); requests in flight keep
        the Gate they started with, and the counters of every key carry over."""
        was_open = self._open
        self._build_gate()
        if self._started and was_open != self._open:
            state = "open to anyone" if self._open else "requires a gateway key"
            _log.warning(f"stored keys changed: the API {state}")
        self._restore_spend()

    def _restore_spend(self) -> None:
        if self._started:  # new keys or periods: their spend so far (seeding keeps the rest)
            self._restoring = asyncio.create_task(
                restore_spend(self.gate, self._usage, self._data_dir)
            )

    @property
    def edge_limits(self) -> EdgeLimits:
        """The limits on a client's request head, for the server's protocol (server.py)."""
        server = self.config.server
        return EdgeLimits(server.max_head_bytes, server.head_timeout)

    async def __call__(self, scope: http.Scope, receive: http.Receive, send: http.Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: http.Receive, send: http.Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._start()
                except SchemaTooNew as error:
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        await self.upstream.start()
        await self._migrate_usage()
        if self.recorder is not None:
            self.recorder.start()
        if self.shared is not None:
            await self.shared.start()
        else:
            _log.info("no server.redis_url: limits and cooldowns are per replica")
        if self.responses is not None:
            try:
                await asyncio.to_thread(self.responses.rows.open)
            except SchemaTooNew:
                raise
            except Exception as error:  # down at start: its requests get a 503 until it is up
                _log.warning("responses store unavailable at start", error=str(error))
            self.responses.start()
        if self._metrics_on:
            self._snapshots = asyncio.create_task(self._write_snapshots())
        if self.watcher is not None:
            self.watcher.start()
        if self.stored_keys is not None:
            await self.stored_keys.start()
        if self._open:
            _log.warning("no gateway keys configured: the API is open to anyone")
        elif self.stored_keys is not None and self.stored_keys.unknown and not self.config.keys:
            _log.warning("no config keys, and the store of stored keys cannot answer: every "
                         "request is refused (503) until it does")  # fmt: skip
        await restore_spend(self.gate, self._usage, self._data_dir)
        self._started = True
        if self.workers > 1 and isinstance(self.limiter.pool, LocalPool):
            _log.info(
                "limits are per worker: each enforces its share (limit / workers, rounded up)",
                workers=self.workers,
            )

    async def _stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        if self.stored_keys is not None:
            await self.stored_keys.stop()
        await self.admin.close()
        if self._snapshots is not None:
            self._snapshots.cancel()
        if self.recorder is not None:
            await self.recorder.close()  # SIGTERM flushes what is buffered
        await self.upstream.close()
        if self.shared is not None:
            await self.shared.close()
        if self.responses is not None:
            await asyncio.to_thread(self.responses.close)
        if self._metrics_on:
            self._update_gauges()
            self.metrics.write_snapshot()
        log.flush()

    async def _migrate_usage(self) -> None:
        """Apply the usage store's migrations (its newer schema refuses the start); the
        recorder process writes the rows."""
        backend = store_backend(self.config.usage, self.config.server.data_dir)
        if backend is None:
            return
        try:
            await asyncio.to_thread(backend.open)
        except SchemaTooNew:
            raise
        except Exception as error:  # down at start: requests go on, the recorder retries
            _log.warning("usage store unavailable at start", error=str(error))
        finally:
            await asyncio.to_thread(backend.close)

    async def _write_snapshots(self) -> None:
        """Every second: this worker's gauges, and its snapshot for the other workers."""
        while True:
            await asyncio.sleep(1.0)
            self._update_gauges()
            try:
                await asyncio.to_thread(self.metrics.write_snapshot)
            except OSError as error:
                _log.warning("cannot write the metrics snapshot", error=str(error))

    def _update_gauges(self) -> None:
        live, recorder = self.metrics.live, self.recorder
        if recorder is not None:
            if recorder.stores:
                live.queued, live.dropped = recorder.queued, recorder.dropped
                live.store_up = int(recorder.healthy)
            live.spans_exported = recorder.spans_exported
            live.spans_dropped = recorder.spans_dropped
        if self.shared is not None:
            live.shared_up = int(self.shared.up)
        if self.responses is not None:
            live.responses_dropped = self.responses.dropped
            live.responses_up = int(self.responses.healthy)

    async def _http(self, scope: http.Scope, receive: http.Receive, send: http.Send) -> None:
        """Dispatch by the route table; every failure is answered here, in the client's format."""
        route = self.routes.match(scope["method"], scope["path"])
        api = route.api if route is not None else self.routes.error_api(scope["path"])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id") or ""
        if not request_id or len(request_id) > MAX_REQUEST_ID or not request_id.isprintable():
            request_id = self._next_request_id()  # none, or one not to echo nor store
        writer = ResponseWriter(send, request_id)
        origin = headers.get("origin")
        if origin is not None and self._cors is not None:  # a browser's request
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await self._preflight(self._cors, origin, headers, scope["path"], writer)
                return
            if route is not None and route.kind not in _SAME_ORIGIN:
                writer.add_headers(self._cors.headers(origin))
        exchange = Exchange(route, api, headers, request_id, writer, scope)
        if self.tracer is not None:
            exchange.trace = self.tracer.begin(scope, headers)
        try:
            if route is None:
                unknown = f"Unknown route: {scope['method']} {scope['path']}"
                raise NotFound(unknown, kind="unknown_path")
            if route.authenticated:
                exchange.key = self._authenticate(headers, scope.get("query_string", b""), route)
            await _HANDLERS[route.kind](self, exchange, receive)
        except asyncio.CancelledError:
            if exchange.watch is None or not exchange.watch.disconnected:
                if exchange.ticket is not None:
                    exchange.ticket.release()
                raise
            # Our own cancellation: the client went away and the upstream call was dropped.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            exchange.writer.status = CLIENT_CLOSED
            self._finish(exchange, "client disconnected")
            return
        except GatewayError as error:
            if exchange.writer.started:
                exchange.writer.status = error.status
            else:
                await _send_error(exchange.writer, api, error)
            self._finish(exchange, error)
            return
        except Exception as error:  # the request boundary: never a stack trace to the client
            _log.exception("unhandled error", request_id=request_id)
            if exchange.ticket is not None:
                exchange.ticket.release()
            if not exchange.writer.started:
                internal = GatewayError(f"internal error: {type(error).__name__}")
                await _send_error(exchange.writer, api, internal)
            return
        if route.kind in _STRATEGIES:
            self._finish(exchange, None)

    async def _preflight(
        self, cors: Cors, origin: str, headers: dict[str, str], path: str, writer: ResponseWriter
    ) -> None:
        """Answer a browser's CORS preflight for a route of the API (the admin API and the
        dashboard are the dashboard's own: same origin, no preflight)."""
        method = headers["access-control-request-method"].strip().upper()
        route = self.routes.match(method, path)
        if route is None or route.kind in _SAME_ORIGIN:
            unknown = NotFound(f"Unknown route: {method} {path}", kind="unknown_path")
            await _send_error(writer, self.routes.error_api(path), unknown)
            return
        await writer.no_content(cors.preflight(origin, headers))

    async def _proxy(self, exchange: Exchange, receive: http.Receive) -> None:
        """Serve a generation, embeddings or text-completion request through the attempt loop."""
        assert exchange.route is not None
        strategy = _STRATEGIES[exchange.route.kind]
        request = await self._read_request(exchange, receive)
        if self.responses is not None:  # reads the store only for a continuation
            request = exchange.request = await conversations.prepare(request, self.responses)
        gate = self.gate
        if gate.watches(request):
            ticket = await gate.admit(request, self.router, self.prices, strategy.output)
            exchange.ticket = ticket
            if ticket is not None:
                exchange.writer.add_headers(gate.headers(request.key))
        live = self.metrics.live
        live.in_flight += 1
        try:
            with http.CancelOnDisconnect(receive, exchange.scope) as watch:
                exchange.watch = watch
                exchange.outcome = await self.proxy.handle(
                    request, exchange.writer, exchange.trail, strategy
                )
        finally:
            live.in_flight -= 1

    async def _count_tokens(self, exchange: Exchange, receive: http.Receive) -> None:
        request = await self._read_request(exchange, receive)
        self.gate.keyring.check_model(request.key, request.model)
        await count_tokens(request, self.router, self.upstream, exchange.writer, exchange.trail)

    async def _models(self, exchange: Exchange, receive: http.Receive) -> None:
        anthropic = "anthropic-version" in exchange.headers
        entries = self.gate.models(exchange.key, self.router.models())
        model = exchange.route.model if exchange.route is not None else None
        body = one_body(entries, model, anthropic) if model else list_body(entries, anthropic)
        await exchange.writer.body(200, body)

    async def _metrics(self, exchange: Exchange, receive: http.Receive) -> None:
        if not self._metrics_on:
            raise NotFound("Metrics are off (server.metrics: false).", kind="unknown_path")
        self._update_gauges()
        cooling = [
            (t.provider_name, t.model, self.health.cooling(t.key)) for t in self.router.targets()
        ]
        body = await asyncio.to_thread(self.metrics.render, cooling)
        await exchange.writer.body(200, body, [(b"content-type", METRICS_CONTENT_TYPE)])

    async def _admin(self, exchange: Exchange, receive: http.Receive) -> None:
        await self.admin.handle(exchange, receive)

    async def _answer(self, exchange: Exchange, receive: http.Receive) -> None:
        """`GET`, `DELETE` or list the items of an answer the gateway keeps."""
        route = exchange.route
        assert route is not None and route.answer_id is not None
        store, codec, key = self.responses, codec_for(route.api), exchange.key
        assert store is not None  # the route table has these routes only with the store on
        if route.kind == "get_answer":
            await conversations.retrieve(store, codec, key, route.answer_id, exchange.writer)
        elif route.kind == "delete_answer":
            await conversations.delete(store, codec, key, route.answer_id, exchange.writer)
        else:
            query = exchange.scope.get("query_string", b"")
            await conversations.list_items(
                store, codec, key, route.answer_id, query, exchange.writer
            )

    async def _self(self, exchange: Exchange, receive: http.Receive) -> None:
        await exchange.writer.body(200, self.gate.view(exchange.key))

    async def _health(self, exchange: Exchange, receive: http.Receive) -> None:
        await exchange.writer.body(200, b'{"status":"ok"}')

    async def _ui(self, exchange: Exchange, receive: http.Receive) -> None:
        assert exchange.route is not None
        await self.dashboard.serve(exchange.route, exchange.headers, exchange.writer)

    async def _read_request(self, exchange: Exchange, receive: http.Receive) -> ClientRequest:
        route = exchange.route
        assert route is not None
        body = await _read_body(receive, exchange.headers, self.config.server.max_body_bytes)
        url = (route.model, route.stream) if route.model is not None else None
        codec = codec_for(route.api)
        request = read_request(
            route.api,
            codec,
            exchange.headers,
            body,
            exchange.started,
            url,
            exchange.key,
            exchange.trace,
        )
        exchange.request = request
        return request

    def _finish(self, exchange: Exchange, error: GatewayError | str | None) -> None:
        """Hand the exchange's record to the log line, the usage store and the metrics."""
        record = make_record(exchange, error, self.prices)
        if exchange.ticket is not None:
            if record.tokens_estimated:
                exchange.ticket.keep()
            else:
                exchange.ticket.settle(record_tokens(record), record.cost_usd)
        fields = log_fields(record, error)
        trace, traced = exchange.trace, None
        if trace is not None:
            fields["trace_id"] = trace.trace_id.hex()
            traced = Tracer.finished(trace, exchange.started, exchange.route)
        log.access(fields)
        if self.recorder is not None:
            self.recorder.add(record, traced)
        if self._metrics_on:
            self.metrics.observe(record)
        if self.events.subscribers:  # the live view: nothing to do when nobody watches
            self.events.publish(record)

    def _next_request_id(self) -> str:
        return f"{self._id_prefix}{next(self._request_ids):x}"

    def _authenticate(self, headers: dict[str, str], query: bytes, route: Route) -> str:
        """The name of the gateway key presented ("" when the API is open); 401 otherwise.
        `/metrics` also takes the metrics token, and needs one of the two whenever keys exist."""
        if self._open:
            return ""
        presented = _presented_key(headers, query)
        token = self.config.server.metrics_token
        metrics = route.kind == "metrics" and presented and token
        if metrics and hmac.compare_digest(str(presented).encode(), str(token).encode()):
            return ""
        policy = self.gate.keyring.match(presented) if presented is not None else None
        if policy is not None:
            policy.check_usable()
            return policy.name
        if presented and self.stored_keys is not None and self.stored_keys.unknown:
            # It may be a stored key the store has not told us of: not wrong, just unknown yet.
            raise Overloaded(
                "The gateway cannot check this API key yet: its key store does not answer.",
                retry_after="5",
            )
        raise Unauthorized("Invalid or missing API key for this gateway.")


# The dashboard's own routes: served to its page, from the gateway's origin, never across.
_SAME_ORIGIN: frozenset[RouteKind] = frozenset({"admin", "ui"})
_STRATEGIES: dict[RouteKind, Strategy] = {
    "generate": GENERATE,
    "embeddings": EMBED,
    "completions": COMPLETE,
}

_HANDLERS: dict[RouteKind, _Handler] = {
    "generate": Gateway._proxy,
    "embeddings": Gateway._proxy,
    "completions": Gateway._proxy,
    "count_tokens": Gateway._count_tokens,
    "models": Gateway._models,
    "health": Gateway._health,
    "self": Gateway._self,
    "metrics": Gateway._metrics,
    "admin": Gateway._admin,
    "get_answer": Gateway._answer,
    "delete_answer": Gateway._answer,
    "answer_items": Gateway._answer,
    "ui": Gateway._ui,
}


def _presented_key(headers: dict[str, str], query: bytes) -> str | None:
    authorization = headers.get("authorization")
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    for name in ("x-api-key", "x-goog-api-key"):
        value = headers.get(name)
        if value:
            return value
    if query:
        keys = parse_qs(query.decode("latin-1")).get("key")
        if keys:
            return keys[0]
    return None


async def _read_body(receive: http.Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("client disconnected before sending the whole body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


async def _send_error(writer: ResponseWriter, api: ir.ApiType, error: GatewayError) -> None:
    """The error in the client's format; an upstream error of the client's own API as the
    upstream sent it (its details kept, e.g. Gemini's RetryInfo)."""
    status = error.status
    relay = error.relay
    if relay is not None and relay[0] == api:
        status, body = relay[1], relay[2]
    else:
        body = codec_for(api).encode_error(status, error.message, error.kind)
    headers = list(http.JSON_HEADERS)
    if error.retry_after:
        headers.append((b"retry-after", error.retry_after.encode()))
    if isinstance(error, RateLimited):
        headers.extend(error.headers)
    await writer.body(status, body, headers)
