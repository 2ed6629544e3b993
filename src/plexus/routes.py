"""The route table: every path the gateway serves, built from the protocols' transports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from plexus import ir
from plexus.protocols import CODECS, DEFAULT_API

RouteKind = Literal[
    "generate", "embeddings", "completions", "count_tokens", "models", "health", "metrics", "admin"
]
ADMIN_PREFIX = "/v0/admin"


@dataclass(frozen=True, slots=True)
class Route:
    """A matched route: what to do, in which API's format, and what the path carried."""

    kind: RouteKind
    api: ir.ApiType
    model: str | None = None  # from the path: Gemini's `{model}:{action}`, `/v1/models/{id}`
    stream: bool = False  # from the path: Gemini's action

    @property
    def authenticated(self) -> bool:
        """Whether the route needs a gateway key (the admin API checks its own key)."""
        return self.kind != "health" and self.kind != "admin"


class RouteTable:
    """Matches a method and path to a `Route`; answers which error format a miss gets."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], Route] = {
            ("GET", "/v1/models"): Route("models", DEFAULT_API),
            ("GET", "/models"): Route("models", DEFAULT_API),
            ("GET", "/health"): Route("health", DEFAULT_API),
            ("GET", "/metrics"): Route("metrics", DEFAULT_API),
        }
        self._model_prefixes: list[tuple[str, ir.ApiType]] = []
        self._error_prefixes: list[tuple[str, ir.ApiType]] = []
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

    def match(self, method: str, path: str) -> Route | None:
        """The route of `method path` (already percent-decoded by the server: decoding it
        again turned `%252F` into `/`), or None."""
        route = self._exact.get((method, path))
        if route is not None:
            return route
        if method == "GET" and path.startswith("/v1/models/"):
            return Route("models", DEFAULT_API, path[len("/v1/models/") :])
        if method == "POST":
            for prefix, api in self._model_prefixes:
                if path.startswith(prefix):
                    return _model_route(api, path[len(prefix) :])
        if path.startswith(ADMIN_PREFIX):
            return _ADMIN
        return None

    def error_api(self, path: str) -> ir.ApiType:
        """The API whose error format a request to an unknown `path` gets."""
        for prefix, api in self._error_prefixes:
            if path.startswith(prefix):
                return api
        return DEFAULT_API


_ADMIN = Route("admin", DEFAULT_API)


def _model_route(api: ir.ApiType, rest: str) -> Route | None:
    """`{model}:{action}` after a protocol's prefix, as Gemini addresses a model."""
    model, _, action = rest.rpartition(":")
    stream = CODECS[api].TRANSPORT.stream_for_action(action)
    if not model or stream is None:
        return None
    return Route("generate", api, model, stream)
