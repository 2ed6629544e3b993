"""The gateway's error tree; `app.py` renders each in the client's own API format.

    GatewayError                 status, message, kind (a canonical error type)
    ├── BadRequest               400  malformed JSON, wrong types, invalid request
    │   └── Unsupported          400  the target cannot serve this kind of request
    ├── Unauthorized             401  missing, wrong, expired or disabled gateway key
    ├── Forbidden                403  the key may not use this model
    ├── RateLimited              429  a key's, alias's or provider's limit or budget is used up
    ├── NotFound                 404  unknown model or route
    ├── PayloadTooLarge          413  body above the configured limit
    ├── ProviderUnavailable      500 / 429  provider misconfigured or at its concurrency limit
    ├── Overloaded               503  the gateway itself is out of a resource (descriptors...)
    ├── UpstreamError            the upstream's own status and message
    ├── UpstreamUnreachable      502  connection refused, DNS, reset
    └── UpstreamTimeout          504  connect or read timeout

`kind` is one of: invalid_request, authentication, permission, not_found, unknown_path, too_large,
rate_limit, overloaded, api_error, timeout, billing; each codec maps it to its protocol's error
type (an unknown `kind` falls back to the protocol's generic error).
"""

from __future__ import annotations


class GatewayError(Exception):
    """A failure answered to the client with `status` and `message`."""

    status = 500
    kind = "api_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        kind: str | None = None,
        param: str | None = None,
        retry_after: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # for the log only: addresses, errnos, what the client need not see
        # An answer already written in one API's format (the API, status, body): sent as it is
        # to a client of that API, e.g. an upstream's own error body with its details.
        self.relay: tuple[str, int, bytes] | None = None
        if status is not None:
            self.status = status
        if kind is not None:
            self.kind = kind
        self.param = param
        self.retry_after = retry_after


class BadRequest(GatewayError):
    """The client's request is malformed or invalid."""

    status = 400
    kind = "invalid_request"


class Unsupported(BadRequest):
    """The target cannot serve this kind of request (no embeddings, no text completions, an
    input its API cannot take); another target of the alias may."""


class Unauthorized(GatewayError):
    """The gateway key is missing or wrong."""

    status = 401
    kind = "authentication"


class Forbidden(GatewayError):
    """The gateway key may not do this (a model outside its allowlist)."""

    status = 403
    kind = "permission"


class RateLimited(GatewayError):
    """A limit or budget is used up; `headers` tell the client when to come back."""

    status = 429
    kind = "rate_limit"

    def __init__(self, message: str, headers: list[tuple[bytes, bytes]], retry_after: str | None):
        super().__init__(message, retry_after=retry_after)
        self.headers = headers


class NotFound(GatewayError):
    """The model or route does not exist."""

    status = 404
    kind = "not_found"


class PayloadTooLarge(GatewayError):
    """The request body exceeds the configured limit."""

    status = 413
    kind = "too_large"


class ProviderUnavailable(GatewayError):
    """The provider cannot take the request (no key configured, concurrency limit reached);
    another target may."""


class Overloaded(GatewayError):
    """The gateway ran out of a local resource; no provider is to blame, none is tried."""

    status = 503
    kind = "overloaded"


class UpstreamError(GatewayError):
    """The upstream answered with an error status; its status and message are kept, and its
    body as sent (`relay`) for a client of the same API."""


class UpstreamUnreachable(GatewayError):
    """The upstream could not be reached."""

    status = 502
    kind = "api_error"


class UpstreamTimeout(GatewayError):
    """The upstream did not answer in time."""

    status = 504
    kind = "timeout"


def kind_for_status(status: int) -> str:
    """Return the canonical error kind for an HTTP status."""
    match status:
        case 400 | 422:
            return "invalid_request"
        case 401:
            return "authentication"
        case 402:
            return "billing"
        case 403:
            return "permission"
        case 404:
            return "not_found"
        case 413:
            return "too_large"
        case 429:
            return "rate_limit"
        case 503 | 529:
            return "overloaded"
        case 408 | 504:
            return "timeout"
        case _:
            return "invalid_request" if 400 <= status < 500 else "api_error"
