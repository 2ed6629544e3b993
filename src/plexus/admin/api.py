"""The admin API's front: on only with an admin key, Bearer auth in constant time, the table of
endpoints, and one place that turns every refusal into the admin error body."""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec
import structlog

from plexus import http
from plexus.admin import config_routes, key_routes, monitor, playground
from plexus.admin.call import JSON, Call, Handler
from plexus.admin.config_file import ConfigFile
from plexus.admin.events import EventHub, stream_events
from plexus.admin.wire import (
    AdminError,
    AliasList,
    AuditPage,
    ConfigText,
    ConfigView,
    HealthList,
    HealthReset,
    KeyChange,
    KeyCreate,
    KeyDeleted,
    KeyList,
    KeyRotation,
    KeySecret,
    KeyView,
    PlaygroundAnswer,
    PlaygroundRequest,
    ProviderList,
    RequestPage,
    Reset,
    UsageRows,
    Validity,
    Written,
    not_found,
)
from plexus.ledger.query import Overview, Queries, RequestView
from plexus.ledger.readers import StoreUnavailable, open_reader

if TYPE_CHECKING:
    from plexus.app import Gateway
    from plexus.exchange import Exchange

_log = structlog.get_logger("plexus")
PREFIX = "/v0/admin"
KEY_ENV = "PLEXUS_ADMIN_KEY"
MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One method and path pattern of the API, its handler, and what OpenAPI says of it."""

    method: str
    pattern: str  # `/providers/{name}`
    handler: Handler
    summary: str
    body: Any = None  # the request body's Struct
    answer: Any = None  # the answer's Struct (None: not JSON)
    status: int = 200  # the status of a successful answer


ENDPOINTS = (
    Endpoint("GET", "/config", config_routes.get_config, "The config file, secrets redacted",
             answer=ConfigView),
    Endpoint("PUT", "/config", config_routes.put_config, "Replace the config file (If-Match)",
             ConfigText, Written),
    Endpoint("POST", "/config/validate", config_routes.validate, "Check a config text",
             ConfigText, Validity),
    Endpoint("GET", "/providers", config_routes.list_providers, "Providers and their health",
             answer=ProviderList),
    Endpoint("GET", "/providers/{name}", config_routes.get_provider, "One provider's mapping",
             answer=dict),
    Endpoint("PUT", "/providers/{name}", config_routes.put_provider, "Create or replace one",
             dict, Written),
    Endpoint("DELETE", "/providers/{name}", config_routes.delete_provider, "Delete a provider",
             answer=Written),
    Endpoint("GET", "/aliases", config_routes.list_aliases, "Aliases and their targets",
             answer=AliasList),
    Endpoint("GET", "/aliases/{name}", config_routes.get_alias, "One alias's mapping",
             answer=dict),
    Endpoint("PUT", "/aliases/{name}", config_routes.put_alias, "Create or replace an alias",
             dict, Written),
    Endpoint("DELETE", "/aliases/{name}", config_routes.delete_alias, "Delete an alias",
             answer=Written),
    Endpoint("GET", "/keys", key_routes.list_keys, "Gateway keys: the config's and stored ones",
             answer=KeyList),
    Endpoint("POST", "/keys", key_routes.create_key, "Make a key; its secret is shown once",
             KeyCreate, KeySecret, 201),
    Endpoint("GET", "/keys/{name}", key_routes.get_key, "One gateway key", answer=KeyView),
    Endpoint("PATCH", "/keys/{name}", key_routes.change_key, "Change a stored key's policy",
             KeyChange, KeyView),
    Endpoint("POST", "/keys/{name}/rotate", key_routes.rotate_key,
             "A new secret, shown once; the old one stops (after a grace)", KeyRotation,
             KeySecret),
    Endpoint("DELETE", "/keys/{name}", key_routes.delete_key, "Delete a stored key",
             answer=KeyDeleted),
    Endpoint("GET", "/overview", monitor.overview, "Traffic over time, totals, top names",
             answer=Overview),
    Endpoint("GET", "/usage", monitor.usage, "Usage by period and group (JSON or CSV)",
             answer=UsageRows),
    Endpoint("GET", "/requests", monitor.requests, "The request log, newest first",
             answer=RequestPage),
    Endpoint("GET", "/requests/{request_id}", monitor.request, "One request with its trail",
             answer=RequestView),
    Endpoint("GET", "/events", stream_events, "Finished requests, live (SSE)",
             answer="text/event-stream"),
    Endpoint("GET", "/health", monitor.health, "Alias targets' health and cooldowns",
             answer=HealthList),
    Endpoint("POST", "/health/reset", monitor.reset_health, "End cooldowns", HealthReset, Reset),
    Endpoint("GET", "/audit", monitor.audit, "Changes made through this API, newest first",
             answer=AuditPage),
    Endpoint("POST", "/playground", playground.translate, "The upstream request, not sent",
             PlaygroundRequest, PlaygroundAnswer),
    Endpoint("GET", "/openapi.json", monitor.openapi, "This API's OpenAPI document",
             answer=dict),
)  # fmt: skip


class AdminApi:
    """`/v0/admin/*`: state shared by the handlers, and the dispatch to them."""

    def __init__(self, gateway: Gateway, config_path: str | None) -> None:
        self.gateway = gateway
        key = os.environ.get(KEY_ENV, "")
        self.key = key.encode() if key else None
        self.file = ConfigFile(config_path) if config_path else None
        self.events = EventHub()
        self.keepalive_seconds = 15.0
        self.edits = asyncio.Lock()  # one config edit at a time: read, check, write, reload
        config = gateway.config
        reader = open_reader(config.usage, config.server.data_dir) if gateway.stores_usage else None
        self.queries = Queries(reader) if reader is not None else None

    async def handle(self, exchange: Exchange, receive: http.Receive) -> None:
        """Answer one admin request; every refusal in the admin error format."""
        writer = exchange.writer
        try:
            await self._handle(exchange, receive)
        except AdminError as error:
            if not writer.started:
                await writer.body(error.status, error.body(), JSON)
        except Exception:  # the admin boundary: logged once, a 500 without details
            _log.exception("admin API error", request_id=exchange.request_id)
            if not writer.started:
                internal = AdminError(500, "internal", "internal error (see the gateway's log)")
                await writer.body(500, internal.body(), JSON)

    async def _handle(self, exchange: Exchange, receive: http.Receive) -> None:
        if self.key is None:
            raise not_found(f"the admin API is off: set {KEY_ENV} to turn it on")
        self._authenticate(exchange.headers)
        scope = exchange.scope
        endpoint, params = _match(scope["method"], scope["path"])
        body = b""
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body = await _read_body(receive)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        call = Call(scope["method"], params, query, exchange.headers, body, exchange.writer,
                    receive)  # fmt: skip
        try:
            answer = await endpoint.handler(self, call)
        except StoreUnavailable as error:
            raise AdminError(
                503, "unavailable", f"the usage store is unavailable: {error}"
            ) from error
        if answer is not None:
            await exchange.writer.body(answer.status, answer.body, answer.headers)

    def _authenticate(self, headers: dict[str, str]) -> None:
        """Only the admin key; a gateway key is refused even if someone made them equal."""
        assert self.key is not None
        authorization = headers.get("authorization", "")
        presented = (
            authorization[7:].strip().encode() if authorization[:7].lower() == "bearer " else b""
        )
        if not presented or not hmac.compare_digest(presented, self.key):
            raise AdminError(401, "unauthorized", "missing or invalid admin key")
        gateway_keys = [k.secret for k in self.gateway.config.keys.values() if k.secret]
        configured = any(hmac.compare_digest(presented, s.encode()) for s in gateway_keys)
        if configured or self.gateway.gate.keyring.match(presented.decode("latin-1")):
            raise AdminError(401, "unauthorized", "a gateway key is not an admin key")

    async def audit(self, action: str, target: str, detail: dict[str, Any]) -> None:
        """Record a change: in the audit table when there is a store, always in the log."""
        _log.info("admin change", action=action, target=target, **detail)
        if self.queries is None:
            return
        try:
            await self.queries.audit(time.time(), "admin", action, target,
                                     msgspec.json.encode(detail))  # fmt: skip
        except StoreUnavailable as error:
            _log.warning("audit row not written", action=action, error=str(error))

    def require_queries(self) -> Queries:
        """The usage store's queries; 409 when the gateway runs without a store."""
        if self.queries is None:
            raise AdminError(409, "conflict", "the usage store is off (usage.database: none)")
        return self.queries

    async def close(self) -> None:
        """Release the store's connections."""
        if self.queries is not None:
            await self.queries.reader.close()


def _match(method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
    """The endpoint of `method path` and its path parameters; 404 or 405."""
    parts = path.removeprefix(PREFIX).strip("/").split("/")
    allowed = []
    for endpoint in ENDPOINTS:
        pattern = endpoint.pattern.strip("/").split("/")
        if len(pattern) != len(parts):
            continue
        params = {}
        for want, got in zip(pattern, parts, strict=True):
            if want.startswith("{"):
                if not got:
                    break
                params[want[1:-1]] = got
            elif want != got:
                break
        else:
            if endpoint.method == method:
                return endpoint, params
            allowed.append(endpoint.method)
    if allowed:
        raise AdminError(
            405, "method_not_allowed", f"{method} not allowed here (use {', '.join(allowed)})"
        )
    raise not_found(f"no admin endpoint at {path}")


async def _read_body(receive: http.Receive) -> bytes:
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise AdminError(400, "bad_request", "client disconnected before sending the body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise AdminError(413, "bad_request", f"body larger than {MAX_BODY} bytes")
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)
