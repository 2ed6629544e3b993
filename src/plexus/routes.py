"""The route table: every path the gateway serves, built from the protocols' transports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from plexus import ir
from plexus.protocols import CODECS, DEFAULT_API

RouteKind = Literal[
    "generate", "embeddings", "completions", "count_tokens", "models", "health", "metrics",
    "admin", "get_answer", "delete_answer", "answer_items", "ui", "self",
]  # fmt: skip
ADMIN_PREFIX = "/v0/admin"
UI_PREFIX = "/ui"
_PUBLIC: frozenset[RouteKind] = frozenset({"health", "admin", "ui"})


@dataclass(frozen=True, slots=True)
class Route:
    """A matched route: what to do, in which API's format, and what the path carried."""

    kind: RouteKind
    api: ir.ApiType
    model: str | None = None  # from the path: Gemini's `{model}:{action}`, `/v1/models/{id}`
    stream: bool = False  # from the path: Gemini's action
    answer_id: str | None = None  # from the path: a kept answer's id (`/v1/responses/{id}`)
    rest: str = ""  # the path after a prefix route's prefix: the dashboard's file
    method: str = ""  # for a route that answers several methods (the dashboard: GET, HEAD)

    @property
    def authenticated(self) -> bool:
        """Whether the route needs a gateway key (the admin API checks its own key; the
        dashboard's files are public: its page asks for the admin key and sends it to the admin
        API only)."""
        return self.kind not in _PUBLIC


class RouteTable:
    """Matches a method and path to a `Route`; answers which error format a miss gets. The
    routes of kept answers exist only with `answers` (responses.store) on."""

    def __init__(self, *, answers: bool = False) -> None:
        self._exact: dict[tuple[str, str], Route] = {
            ("GET", "/v1/models"): Route("models", DEFAULT_API),
            ("GET", "/models"): Route("models", DEFAULT_API),
            ("GET", "/health"): Route("health", DEFAULT_API),
            ("GET", "/metrics"): Route("metrics", DEFAULT_API),
            ("GET", "/v0/self"): Route("self", DEFAULT_API),
        }
        self._model_prefixes: list[tuple[str, ir.ApiType]] = []
        self._error_prefixes: list[tuple[str, ir.ApiType]] = []
        self._answer_prefixes: list[tuple[str, str | None, ir.ApiType]] = []
        for api, codec in CODECS.items():
            transport = codec.TRANSPORT
            for path in (transport.client_path, *transport.client_path_aliases):
                if transport.model_in_url:
                    self._model_prefixes.append((path, api))
                else:
                    self._exact["POST", path] = Route("generate", api)
            if transport.count_tokens_path is not None:
                self._exact["POST", transport.count_tokens_path] = Route("count_tokens", api)
            if transport.embeddings_path is not None:
                self._exact["POST", transport.embeddings_path] = Route("embeddings", api)
            if transport.completions_path is not None:
                self._exact["POST", transport.completions_path] = Route("completions", api)
            self._error_prefixes.extend((prefix, api) for prefix in transport.error_paths)
            if answers and transport.answers_path is not None:
                entry = (transport.answers_path, transport.answer_items_suffix, api)
                self._answer_prefixes.append(entry)

    def match(self, method: str, path: str) -> Route | None:
        """The route of `method path` (already percent-decoded by the server: decoding it
        again turned `%252F` into `/`), or None."""
        route = self._exact.get((method, path))
        if route is not None:
            return route
        if path == UI_PREFIX or path.startswith(UI_PREFIX + "/"):
            return Route("ui", DEFAULT_API, rest=path[len(UI_PREFIX) + 1 :], method=method)
        if method == "GET" and path.startswith("/v1/models/"):
            return Route("models", DEFAULT_API, path[len("/v1/models/") :])
        if method == "POST":
            for prefix, api in self._model_prefixes:
                if path.startswith(prefix):
                    return _model_route(api, path[len(prefix) :])
        if path.startswith(ADMIN_PREFIX):
            return _ADMIN
        if method in ("GET", "DELETE"):
            return self._answer_route(method, path)
        return None

    def _answer_route(self, method: str, path: str) -> Route | None:
        """`GET`/`DELETE {answers_path}{id}`, `GET {answers_path}{id}{answer_items_suffix}`."""
        for prefix, items_suffix, api in self._answer_prefixes:
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            if items_suffix and method == "GET" and rest.endswith(items_suffix):
                rest = rest[: -len(items_suffix)]
                return Route("answer_items", api, answer_id=rest) if _an_id(rest) else None
            if _an_id(rest):
                kind: RouteKind = "get_answer" if method == "GET" else "delete_answer"
                return Route(kind, api, answer_id=rest)
        return None

    def error_api(self, path: str) -> ir.ApiType:
        """The API whose error format a request to an unknown `path` gets."""
        for prefix, api in self._error_prefixes:
            if path.startswith(prefix):
                return api
        return DEFAULT_API


_ADMIN = Route("admin", DEFAULT_API)


def _an_id(text: str) -> bool:
    return bool(text) and "/" not in text


def _model_route(api: ir.ApiType, rest: str) -> Route | None:
    """`{model}:{action}` after a protocol's prefix, as Gemini addresses a model."""
    model, _, action = rest.rpartition(":")
    stream = CODECS[api].TRANSPORT.stream_for_action(action)
    if not model or stream is None:
        return None
    return Route("generate", api, model, stream)
