"""The admin API's bodies: what it takes and what it answers (docs/admin-api.md), and its one
error type. The OpenAPI document is generated from these Structs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from plexus.config import BudgetConfig, Count
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


KeyName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
GRACE_LIMIT = 7 * 86400


class KeyCreate(_Body):
    """A key to make: its name and policy, as a YAML key has them (`expires`: an ISO date or
    time, UTC unless it says); the secret is made by the gateway."""

    name: KeyName
    models: list[str] | None = None
    rpm: Count | None = None
    tpm: Count | None = None
    max_parallel: Count | None = None
    budget: BudgetConfig | None = None
    expires: str | None = None
    disabled: bool = False
    comment: str | None = None


class KeyChange(_Body):
    """The policy fields to change (those left out stay; null removes a limit)."""

    models: list[str] | msgspec.UnsetType | None = msgspec.UNSET
    rpm: Count | msgspec.UnsetType | None = msgspec.UNSET
    tpm: Count | msgspec.UnsetType | None = msgspec.UNSET
    max_parallel: Count | msgspec.UnsetType | None = msgspec.UNSET
    budget: BudgetConfig | msgspec.UnsetType | None = msgspec.UNSET
    expires: str | msgspec.UnsetType | None = msgspec.UNSET
    disabled: bool | msgspec.UnsetType = msgspec.UNSET
    comment: str | msgspec.UnsetType | None = msgspec.UNSET


class KeyRotation(_Body):
    """How long the old secret keeps working after a rotation (0: it stops now)."""

    grace_seconds: Annotated[float, msgspec.Meta(ge=0, le=GRACE_LIMIT)] = 0.0


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


class KeyView(msgspec.Struct):
    """A gateway key: from the config file (read-only here) or made through this API, its
    policy, and what it used of its limits now (as `GET /v0/self` shows them)."""

    name: str
    source: Literal["config", "admin"]
    prefix: str | None  # the secret's first characters (stored keys only)
    models: list[str] | None
    rpm: int | None
    tpm: int | None
    max_parallel: int | None
    budget: BudgetConfig | None
    expires: float | None  # Unix seconds
    disabled: bool
    comment: str | None
    created: float | None
    updated: float | None
    previous_until: float | None  # a rotated-out secret works until then
    usage: dict[str, Any]


class KeyList(msgspec.Struct):
    """Every gateway key."""

    data: list[KeyView]


class KeySecret(msgspec.Struct):
    """A key and its new secret: the only answer that ever holds it."""

    key: KeyView
    secret: str


class KeyDeleted(msgspec.Struct):
    """A stored key deleted: its secret no longer works."""

    name: str
    deleted: bool


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
    AuditPage, PlaygroundAnswer, KeyCreate, KeyChange, KeyRotation, KeyList, KeyView, KeySecret,
    KeyDeleted,
)  # fmt: skip
