"""A stand-in for the admin API (the admin-API contract) while the real one is not on main:
one aiohttp origin that serves `/v0/admin/*` in the contract's shapes and passes everything
else (the dashboard at /ui, the client APIs at /v1 and /v1beta) to a real gateway, recording
each client request it passed as a usage record. The dashboard only needs one origin (its CSP
allows `connect-src 'self'`), so it cannot tell the difference.

What it does not do like the real one: it translates nothing in the playground (it shows the
client body addressed to the first target), redacts no secret, keeps no comments when it
writes the YAML, and prices with one made-up rate. The gateway behind it applies its edits
through its own file watcher.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from plexus.config import ConfigError, parse_config

Handler = Callable[[web.Request], Any]
_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}
_TOP = {"aliases": "alias", "keys": "key", "providers": "provider", "models": "upstream_model"}
_PRICE_PER_TOKEN = 1e-6  # one made-up price, so that cost columns are not all zero
_CLIENT_APIS = {
    "/v1/chat/completions": "chat",
    "/v1/messages": "messages",
    "/v1/responses": "responses",
}


def _error(
    status: int, kind: str, message: str, problems: list[dict[str, str]] | None = None
) -> web.Response:
    error: dict[str, Any] = {"type": kind, "message": message}
    if problems is not None:
        error["problems"] = problems
    return web.json_response({"error": error}, status=status)


def _problems(error: ConfigError) -> list[dict[str, str]]:
    """The loader's `path: message` lines as the contract's problems."""
    found = []
    for line in error.problems:
        path, sep, message = line.partition(": ")
        found.append({"path": path, "message": message} if sep else {"path": "", "message": line})
    return found


class FakeAdmin:
    """The admin API of the contract over a YAML file and the requests it saw."""

    def __init__(self, gateway: str, config_path: Path, key: str) -> None:
        self.gateway = gateway
        self.path = config_path
        self.key = key
        self.records: list[dict[str, Any]] = []
        self.cooling: dict[tuple[str, str], float] = {}
        self.audit: list[dict[str, Any]] = []
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        admin = [
            ("GET", "/health", self.health),
            ("POST", "/health/reset", self.reset),
            ("GET", "/config", self.get_config),
            ("PUT", "/config", self.put_config),
            ("POST", "/config/validate", self.validate),
            ("GET", "/providers", self.providers),
            ("GET", "/aliases", self.aliases),
            ("GET", "/overview", self.overview),
            ("GET", "/usage", self.usage),
            ("GET", "/requests", self.requests),
            ("GET", "/requests/{id}", self.request),
            ("GET", "/events", self.events),
            ("POST", "/playground", self.playground),
            ("GET", "/audit", self.audit_log),
        ]
        for method, path, handler in admin:
            app.router.add_route(method, "/v0/admin" + path, handler)
        for section, plural in (("providers", "providers"), ("models", "aliases")):
            item = f"/v0/admin/{plural}/{{name}}"
            app.router.add_get(item, self._entry_get(section))
            app.router.add_put(item, self._entry_put(section))
            app.router.add_delete(item, self._entry_delete(section))
        app.router.add_route("*", "/{tail:.*}", self.forward)
        app.on_cleanup.append(self._close)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        admin = request.path.startswith("/v0/admin")
        if admin and request.headers.get("authorization") != f"Bearer {self.key}":
            return _error(401, "unauthorized", "a valid admin key is required")
        response: web.StreamResponse = await handler(request)
        return response

    async def _close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    # The config file.

    def _text(self) -> str:
        return self.path.read_text()

    def _etag(self) -> str:
        return '"' + hashlib.sha256(self.path.read_bytes()).hexdigest()[:16] + '"'

    def _raw(self) -> dict[str, Any]:
        raw = yaml.safe_load(self._text()) or {}
        assert isinstance(raw, dict)
        return raw

    def _note(self, action: str, target: str, detail: dict[str, Any]) -> None:
        entry = {"time": time.time(), "actor": "admin", "action": action, "target": target}
        self.audit.append({"id": len(self.audit) + 1, **entry, "detail": detail})

    async def audit_log(self, request: web.Request) -> web.Response:
        newest = list(reversed(self.audit))[: int(request.query.get("limit", "50"))]
        return web.json_response({"data": newest, "next_cursor": None})

    def _save(self, raw: dict[str, Any], action: str, target: str) -> web.Response:
        """Validate with the real loader; write only what it accepts."""
        try:
            parse_config(raw)
        except ConfigError as error:
            return _error(400, "invalid_config", "the config is invalid", _problems(error))
        self.path.write_text(yaml.safe_dump(raw, sort_keys=False))
        self._note(action, target, {})
        return web.json_response(
            {"etag": self._etag(), "applied": True}, headers={"etag": self._etag()}
        )

    async def get_config(self, request: web.Request) -> web.Response:
        body = {"yaml": self._text(), "path": str(self.path), "writable": True, "reason": None}
        return web.json_response(body, headers={"etag": self._etag()})

    async def _yaml_of(self, request: web.Request) -> dict[str, Any] | web.Response:
        text = (await request.json()).get("yaml", "")
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            return _error(400, "invalid_config", "not YAML", [{"path": "", "message": str(error)}])
        if not isinstance(raw, dict):
            return _error(
                400, "invalid_config", "not a mapping", [{"path": "", "message": "not a mapping"}]
            )
        return raw

    async def put_config(self, request: web.Request) -> web.Response:
        match = request.headers.get("if-match")
        if match is None:
            return _error(428, "precondition_required", "If-Match is required")
        if match not in ("*", self._etag()):
            return _error(412, "precondition_failed", "the file changed since it was read")
        raw = await self._yaml_of(request)
        return raw if isinstance(raw, web.Response) else self._save(raw, "config.replace", "config")

    async def validate(self, request: web.Request) -> web.Response:
        raw = await self._yaml_of(request)
        if isinstance(raw, web.Response):
            return raw
        try:
            parse_config(raw)
        except ConfigError as error:
            return _error(400, "invalid_config", "the config is invalid", _problems(error))
        return web.json_response({"valid": True})

    def _entry_get(self, section: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            entry = (self._raw().get(section) or {}).get(request.match_info["name"])
            if entry is None:
                return _error(404, "not_found", "no such entry")
            return web.json_response(entry, headers={"etag": self._etag()})

        return handler

    def _entry_put(self, section: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            raw = self._raw()
            name = request.match_info["name"]
            raw.setdefault(section, {})[name] = await request.json()
            return self._save(raw, f"{section}.put", f"{section}.{name}")

        return handler

    def _entry_delete(self, section: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            raw = self._raw()
            if raw.get(section, {}).pop(request.match_info["name"], None) is None:
                return _error(404, "not_found", "no such entry")
            name = request.match_info["name"]
            return self._save(raw, f"{section}.delete", f"{section}.{name}")

        return handler

    def _targets(self) -> list[tuple[str, str]]:
        aliases = self._raw().get("models") or {}
        return sorted({(t["provider"], t["model"]) for a in aliases.values() for t in a["targets"]})

    def _health(self, provider: str | None = None) -> list[dict[str, Any]]:
        now = time.time()
        items = []
        for name, model in self._targets():
            until = self.cooling.get((name, model), 0.0)
            cooling = until > now
            items.append({
                "provider": name, "model": model, "state": "cooling" if cooling else "ok",
                "cooling_until": until if cooling else None, "failures": 3 if cooling else 0,
            })  # fmt: skip
        return [item for item in items if provider in (None, item["provider"])]

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"data": self._health()})

    async def reset(self, request: web.Request) -> web.Response:
        body = await request.json()
        reset = [
            k
            for k in self.cooling
            if k[0] == body["provider"] and body.get("model") in (None, k[1])
        ]
        for target in reset:
            del self.cooling[target]
        self._note("health.reset", body["provider"], {"targets": len(reset)})
        return web.json_response({"reset": len(reset)})

    async def providers(self, request: web.Request) -> web.Response:
        data = [
            {"name": name, "type": entry.get("type"), "preset": entry.get("preset"),
             "api_base_url": entry.get("api_base_url"), "models": entry.get("models", []),
             "health": self._health(name)}
            for name, entry in (self._raw().get("providers") or {}).items()
        ]  # fmt: skip
        return web.json_response({"data": data})

    async def aliases(self, request: web.Request) -> web.Response:
        data = [
            {"name": name, **entry} for name, entry in (self._raw().get("models") or {}).items()
        ]
        return web.json_response({"data": data})

    # Monitoring, over the records of the requests passed to the gateway.

    def _since(self, request: web.Request) -> float:
        since = request.query.get("since", "-24h").lstrip("-")
        units = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
        return time.time() - float(since[:-1]) * units[since[-1]]

    async def overview(self, request: web.Request) -> web.Response:
        since, now = self._since(request), time.time()
        bucket = int(
            request.query.get("bucket")
            or (60 if now - since <= 3600 else 300 if now - since <= 21600 else 3600)
        )
        start = since - since % bucket
        records = [r for r in self.records if r["time"] >= since]
        series = [
            _totals(t, [r for r in records if t <= r["time"] < t + bucket])
            for t in range(int(start), int(now) + 1, bucket)
        ]
        top = {kind: _top(records, field) for kind, field in _TOP.items()}
        totals = _totals(None, records)
        return web.json_response({"series": series, "totals": totals, "top": top})

    async def usage(self, request: web.Request) -> web.Response:
        by = request.query.get("by", "none")
        field = {
            "key": "key",
            "alias": "alias",
            "provider": "provider",
            "model": "upstream_model",
        }.get(by)
        period = request.query.get("period", "day")
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for record in self.records:
            if record["time"] < self._since(request):
                continue
            start = time.strftime(
                "%Y-%m-%dT%H:00:00Z" if period == "hour" else "%Y-%m-%dT00:00:00Z",
                time.gmtime(record["time"]),
            )
            group = str(record[field] or "") if field else ""
            groups.setdefault((start, group), []).append(record)
        rows = [
            {"period": p, "group": g, **_usage_row(rs)} for (p, g), rs in sorted(groups.items())
        ]
        if request.query.get("format") == "csv":
            out = io.StringIO()
            columns = ["period", "group", *(_usage_row([]).keys())]
            writer = csv.DictWriter(out, columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            return web.Response(text=out.getvalue(), content_type="text/csv")
        return web.json_response({"rows": rows})

    async def requests(self, request: web.Request) -> web.Response:
        query = request.query
        found = [
            {k: v for k, v in r.items() if k != "trail"}
            for r in reversed(self.records)
            if all(query.get(f) in (None, "", r[f]) for f in ("key", "alias", "provider"))
            and _status_matches(query.get("status"), r["status"])
        ]
        limit = int(query.get("limit", "50"))
        offset = int(query.get("cursor") or 0)
        cursor = str(offset + limit) if len(found) > offset + limit else None
        return web.json_response({"data": found[offset : offset + limit], "next_cursor": cursor})

    async def request(self, request: web.Request) -> web.Response:
        for record in self.records:
            if record["request_id"] == request.match_info["id"]:
                return web.json_response(record)
        return _error(404, "not_found", "no such request")

    async def events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            await response.write(b": keep-alive\n\n")
            while True:
                record = await queue.get()
                await response.write(f"event: request\ndata: {json.dumps(record)}\n\n".encode())
        finally:
            self._subscribers.discard(queue)

    async def playground(self, request: web.Request) -> web.Response:
        body = await request.json()
        client = dict(body["body"])
        alias = (self._raw().get("models") or {}).get(client.get("model"))
        if alias is None:
            return _error(404, "not_found", f"no model {client.get('model')!r}")
        target = alias["targets"][0]
        provider = self._raw()["providers"][target["provider"]]
        upstream = {**client, "model": target["model"]}
        url = provider["api_base_url"].rstrip("/") + "/chat/completions"
        answer = {
            "target": {"provider": target["provider"], "model": target["model"]},
            "upstream": {
                "api": provider["type"],
                "url": url,
                "passthrough": False,
                "body": upstream,
            },
        }
        return web.json_response(answer)

    # Everything else: the gateway's, recorded when it is a client request.

    async def forward(self, request: web.Request) -> web.StreamResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        started = time.time()
        first: float | None = None
        response = web.StreamResponse()
        async with self._session.request(
            request.method, self.gateway + request.path_qs, headers=headers, data=body
        ) as upstream:
            response.set_status(upstream.status)
            for name, value in upstream.headers.items():
                if name.lower() not in _HOP - {"content-encoding"}:
                    response.headers.add(name, value)
            await response.prepare(request)
            received = bytearray()
            async for chunk in upstream.content.iter_any():
                first = first or time.time()
                received += chunk
                await response.write(chunk)
        await response.write_eof()
        if request.method == "POST" and request.path.startswith(("/v1/", "/v1beta/")):
            self._record(request, body, upstream.status, started, first, bytes(received))
        return response

    def _record(
        self,
        request: web.Request,
        body: bytes,
        status: int,
        started: float,
        first: float | None,
        answer: bytes,
    ) -> None:
        try:
            model = json.loads(body).get("model") or request.path.rsplit("/", 1)[-1].split(":")[0]
        except (ValueError, AttributeError):
            model = ""
        alias = (self._raw().get("models") or {}).get(model)
        target = alias["targets"][0] if alias else {"provider": None, "model": None}
        words = len(answer.split())
        now = time.time()
        record = {
            "request_id": uuid.uuid4().hex, "time": now, "key": "alice",
            "client_api": _CLIENT_APIS.get(request.path, "gemini"), "route": "generate",
            "alias": model,
            "provider": target["provider"], "upstream_model": target["model"],
            "stream": b"data:" in answer, "status": status,
            "error_kind": None if status < 400 else "upstream" if status >= 500 else "client",
            "finish_reason": "stop" if status < 400 else None,
            "input_tokens": len(body.split()), "output_tokens": words, "cache_read_tokens": 0,
            "cache_write_tokens": 0, "reasoning_tokens": 0,
            "cost_usd": (len(body.split()) + words) * _PRICE_PER_TOKEN if status < 400 else 0.0,
            "cost_source": "fake", "ttfb_ms": ((first or now) - started) * 1000,
            "ttft_ms": ((first or now) - started) * 1000 if status < 400 else None,
            "duration_ms": (now - started) * 1000, "attempts": 1,
            "user_agent": request.headers.get("user-agent"),
            "trail": [{"provider": target["provider"], "model": target["model"], "status": status,
                       "error": None if status < 400 else answer.decode(errors="replace")[:200],
                       "duration_ms": (now - started) * 1000}],
        }  # fmt: skip
        self.records.append(record)
        for queue in self._subscribers:
            queue.put_nowait(record)


def _status_matches(wanted: str | None, status: int) -> bool:
    if not wanted:
        return True
    if wanted == "error":
        return status >= 400 or status == 0
    if wanted.endswith("xx"):
        return str(status).startswith(wanted[0])
    return str(status) == wanted


def _usage_row(records: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "requests": len(records),
        "errors": sum(r["status"] >= 400 for r in records),
    }
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "cost_usd",
    ):
        row[name] = sum(r[name] for r in records)
    row["unpriced"] = 0
    return row


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def _totals(t: int | None, records: list[dict[str, Any]]) -> dict[str, Any]:
    answered = [r["duration_ms"] for r in records if r["status"] < 400]
    ttft = [r["ttft_ms"] for r in records if r["ttft_ms"] is not None]
    row = _usage_row(records)
    totals = {
        k: row[k]
        for k in (
            "requests",
            "errors",
            "cost_usd",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
        )
    }
    totals |= {
        "p50_ms": _percentile(answered, 0.5),
        "p95_ms": _percentile(answered, 0.95),
        "ttft_p50_ms": _percentile(ttft, 0.5),
        "ttft_p95_ms": _percentile(ttft, 0.95),
    }
    return totals if t is None else {"t": t, **totals}


def _top(records: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    counts = Counter(str(r[field]) for r in records if r[field])
    return [
        {
            "name": name,
            "requests": n,
            "cost_usd": sum(r["cost_usd"] for r in records if r[field] == name),
        }
        for name, n in counts.most_common(10)
    ]
