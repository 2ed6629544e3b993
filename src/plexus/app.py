"""The ASGI application: routes, gateway keys, body limits, error rendering, lifespan."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import os
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, unquote

import msgspec
import structlog

from plexus import http, ir, log
from plexus.config import API_TYPES, Config
from plexus.count_tokens import count_tokens
from plexus.errors import BadRequest, GatewayError, NotFound, PayloadTooLarge, Unauthorized
from plexus.health import Health
from plexus.model_list import list_body, one_body
from plexus.protocols import codec_for
from plexus.proxy import Call, Proxy
from plexus.reload import ConfigWatcher
from plexus.routing import Router
from plexus.upstream.client import Upstream

_log = structlog.get_logger("plexus")

_GENERATE_ROUTES: dict[str, ir.ApiType] = {
    "/v1/chat/completions": "chat",
    "/v1/messages": "messages",
    "/v1/responses": "responses",
}
_GEMINI_PREFIX = "/v1beta/models/"


class _Route(msgspec.Struct):
    api: ir.ApiType
    kind: str  # generate | count_tokens | models | health
    url_model: str | None = None
    url_stream: bool = False


class Gateway:
    """The whole gateway as one ASGI callable; state lives here, built in the lifespan."""

    def __init__(self, config: Config, config_path: str | None = None) -> None:
        self.upstream = Upstream()
        # Request ids: this worker and a counter (a uuid4 costs more than the whole log line).
        self._id_prefix = f"{os.getpid():x}-{secrets.token_hex(3)}-"
        self._request_ids = itertools.count(1)
        self.health = Health()
        self.watcher = ConfigWatcher(config_path, self.apply_config) if config_path else None
        self.apply_config(config)
        for api in API_TYPES:  # import every codec now, not during a client's first request
            codec_for(api)

    def apply_config(self, config: Config) -> None:
        """Swap in a new config; requests in flight keep the router they started with."""
        self.config = config
        self.upstream.fetch_private = config.server.media_private_hosts
        self.router = Router(config, health=self.health)
        self.proxy = Proxy(self.router, self.upstream, config.server.max_attempts)
        self._secrets = [k.secret.encode() for k in config.keys.values() if k.secret]
        self._open = not config.keys

    async def __call__(self, scope: http.Scope, receive: http.Receive, send: http.Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: http.Receive, send: http.Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.upstream.start()
                if self.watcher is not None:
                    self.watcher.start()
                if self._open:
                    _log.warning("no gateway keys configured: the API is open to anyone")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.watcher is not None:
                    await self.watcher.stop()
                await self.upstream.close()
                log.flush()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: http.Scope, receive: http.Receive, send: http.Send) -> None:
        route = _match(scope["method"], scope["path"])
        api: ir.ApiType = route.api if route is not None else _guess_api(scope["path"])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        call = Call(api, headers, b"", receive, send)
        request_id = headers.get("x-request-id") or self._next_request_id()
        try:
            if route is None:
                raise NotFound(f"Unknown route: {scope['method']} {scope['path']}")
            if route.kind == "health":
                await http.send_body(send, 200, b'{"status":"ok"}')
                return
            self._authenticate(headers, scope.get("query_string", b""))
            if route.kind == "models":
                anthropic = "anthropic-version" in headers
                entries = self.router.models()
                body = (
                    one_body(entries, route.url_model, anthropic)
                    if route.url_model
                    else list_body(entries, anthropic)
                )
                await http.send_body(send, 200, body)
                return
            call.body = await _read_body(receive, headers, self.config.server.max_body_bytes)
            if route.kind == "count_tokens":
                await count_tokens(call, self.router, self.upstream)
                return
            call.url_model, call.url_stream = route.url_model, route.url_stream
            await self.proxy.handle(call)
        except asyncio.CancelledError:
            if not call.disconnected:
                raise
            # Our own cancellation: the client went away and the upstream call was dropped.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            call.status = 499
            _log_request(call, request_id, "client disconnected")
            return
        except GatewayError as error:
            call.status = error.status
            if not call.response_started:
                await _send_error(send, api, error)
            _log_request(call, request_id, error.message)
            return
        except Exception as error:  # the request boundary: never a stack trace to the client
            _log.exception("unhandled error", request_id=request_id)
            call.status = 500
            if not call.response_started:
                await _send_error(
                    send, api, GatewayError(f"internal error: {type(error).__name__}")
                )
            return
        if route.kind == "generate":
            _log_request(call, request_id, None)

    def _next_request_id(self) -> str:
        return f"{self._id_prefix}{next(self._request_ids):x}"

    def _authenticate(self, headers: dict[str, str], query: bytes) -> None:
        if self._open:
            return
        presented = _presented_key(headers, query)
        if presented is not None:
            candidate = presented.encode()
            # Compare against every key so timing does not reveal which one matched.
            matched = False
            for secret in self._secrets:
                matched |= hmac.compare_digest(candidate, secret)
            if matched:
                return
        raise Unauthorized("Invalid or missing API key for this gateway.")


def _match(method: str, path: str) -> _Route | None:
    if method == "POST":
        api = _GENERATE_ROUTES.get(path)
        if api is not None:
            return _Route(api, "generate")
        if path == "/v1/messages/count_tokens":
            return _Route("messages", "count_tokens")
        if path.startswith(_GEMINI_PREFIX):
            model, _, action = unquote(path[len(_GEMINI_PREFIX) :]).rpartition(":")
            if model and action in ("generateContent", "streamGenerateContent"):
                return _Route("gemini", "generate", model, action == "streamGenerateContent")
        return None
    if method == "GET":
        if path in ("/v1/models", "/models"):
            return _Route("chat", "models")
        if path.startswith("/v1/models/"):
            return _Route("chat", "models", unquote(path[len("/v1/models/") :]))
        if path == "/health":
            return _Route("chat", "health")
    return None


def _guess_api(path: str) -> ir.ApiType:
    """The error format for a request that matched no route."""
    if path.startswith("/v1/messages"):
        return "messages"
    if path.startswith("/v1beta"):
        return "gemini"
    return "responses" if path.startswith("/v1/responses") else "chat"


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


async def _send_error(send: http.Send, api: ir.ApiType, error: GatewayError) -> None:
    body: bytes = codec_for(api).encode_error(error.status, error.message, error.kind)
    headers = list(http.JSON_HEADERS)
    if error.retry_after:
        headers.append((b"retry-after", error.retry_after.encode()))
    await http.send_body(send, error.status, body, headers)


def _log_request(call: Call, request_id: str, error: str | None) -> None:
    now = time.perf_counter()
    fields: dict[str, Any] = {
        "request_id": request_id,
        "client_api": call.client_api,
        "model": call.model,
        "provider": call.provider,
        "upstream_model": call.upstream_model,
        "status": call.status,
        "stream": call.stream,
        "latency_ms": round((now - call.started) * 1000, 2),
        "usage": call.usage,
    }
    if call.first_byte is not None and call.stream:
        fields["ttfb_ms"] = round((call.first_byte - call.started) * 1000, 2)
    if call.attempts > 1:
        fields["attempts"] = call.attempts
    if error is not None:
        fields["error"] = error
    log.access(fields)
