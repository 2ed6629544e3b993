"""The admin API's bodies: what it takes and what it answers (docs/admin-api.md), and its one
error type. The OpenAPI document is generated from these Structs."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from plexus.ir import ApiType
from plexus.ledger.query import AuditEntry, Overview, RequestView, UsageRow


class _Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: an unknown field is a client's mistake, answered with a 400."""


class ConfigText(_Body):
    """A whole config file's text."""

    yaml: str


class HealthReset(_Body):
    """Which targets' cooldowns to clear: one model of a provider, or all of them."""

    provider: str
    model: str | None = None


class PlaygroundRequest(_Body):
    """A client request, as a client of `client_api` would send it."""

    client_api: ApiType
    body: dict[str, Any]


class Problem(msgspec.Struct):
    """One problem of a config, at its path (`""`: the whole document)."""

    path: str
    message: str


class ErrorDetail(msgspec.Struct, omit_defaults=True):
    """What went wrong."""

    type: str
    message: str
    problems: list[Problem] | None = None


class ErrorBody(msgspec.Struct):
    """Every refusal's body."""

    error: ErrorDetail


class AdminError(Exception):
    """A refusal: its status, type, message and, for an invalid config, every problem."""

    def __init__(
        self, status: int, kind: str, message: str, problems: list[Problem] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.problems = status, kind, message, problems

    def body(self) -> bytes:
        """The JSON body of this refusal."""
        return msgspec.json.encode(ErrorBody(ErrorDetail(self.kind, self.message, self.problems)))


def bad_request(message: str) -> AdminError:
    """A 400 for a malformed body or query parameter."""
    return AdminError(400, "bad_request", message)


def not_found(message: str) -> AdminError:
    """A 404."""
    return AdminError(404, "not_found", message)


def conflict(reason: str) -> AdminError:
    """A 409: the change cannot be made in this state (read-only file, writes off, no store)."""
    return AdminError(409, "conflict", reason)


class ConfigView(msgspec.Struct):
    """The config file with its secrets redacted, and whether it can be written."""

    yaml: str
    path: str
    writable: bool
    reason: str | None


class Written(msgspec.Struct):
    """A config change saved and applied."""

    etag: str
    applied: bool


class Validity(msgspec.Struct):
    """A config text that passed validation."""

    valid: bool


class TargetHealth(msgspec.Struct):
    """One alias target's health."""

    provider: str
    model: str
    state: Literal["ok", "cooling"]
    cooling_until: float | None  # Unix seconds
    failures: int


class HealthList(msgspec.Struct):
    """Every alias target's health."""

    data: list[TargetHealth]


class Reset(msgspec.Struct):
    """How many targets' cooldowns were cleared."""

    reset: int


class ProviderSummary(msgspec.Struct):
    """A provider of the running config."""

    name: str
    type: ApiType
    api_base_url: str
    preset: str | None
    models: list[str]
    health: list[TargetHealth]


class ProviderList(msgspec.Struct):
    """Every provider of the running config."""

    data: list[ProviderSummary]


class TargetView(msgspec.Struct):
    """One target of an alias."""

    provider: str
    model: str
    weight: float


class AliasSummary(msgspec.Struct):
    """An alias of the running config."""

    name: str
    selector: str
    targets: list[TargetView]


class AliasList(msgspec.Struct):
    """Every alias of the running config."""

    data: list[AliasSummary]


class UsageRows(msgspec.Struct):
    """Usage by period × group."""

    rows: list[UsageRow]


class RequestPage(msgspec.Struct):
    """A page of the request log, newest first."""

    data: list[RequestView]  # type: ignore[valid-type]
    next_cursor: str | None


class AuditPage(msgspec.Struct):
    """A page of the audit log, newest first."""

    data: list[AuditEntry]
    next_cursor: str | None


class PlaygroundTarget(msgspec.Struct):
    """The target the request would go to."""

    provider: str
    model: str


class UpstreamRequest(msgspec.Struct):
    """The request that would be sent upstream (its headers, which carry the key, left out)."""

    api: ApiType
    url: str
    passthrough: bool
    body: msgspec.Raw


class PlaygroundAnswer(msgspec.Struct):
    """Where a client request would go and what would be sent there."""

    target: PlaygroundTarget
    upstream: UpstreamRequest


SCHEMAS: tuple[Any, ...] = (
    ConfigText, HealthReset, PlaygroundRequest, ErrorBody, ConfigView, Written, Validity,
    HealthList, Reset, ProviderList, AliasList, Overview, UsageRows, RequestPage, RequestView,
    AuditPage, PlaygroundAnswer,
)  # fmt: skip
