"""Typed configuration: YAML loading, `${VAR}` interpolation, validation listing every problem."""

from __future__ import annotations

import datetime
import math
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import unquote, urlsplit

import msgspec
import yaml

from plexus.ir import ApiType
from plexus.presets import PRESETS, vertex_base_url

API_TYPES: tuple[ApiType, ...] = get_args(ApiType)
DEFAULT_CONFIG_PATH = "config/plexus.yaml"

Selector = Literal["random", "weighted", "in_order", "latency"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Config structs reject unknown fields: there a typo is the likely cause."""


class ServerConfig(_Strict):
    """Where and how the gateway listens."""

    host: str = "127.0.0.1"
    port: int = 4000
    workers: int = 1
    max_body_bytes: int = 32 * 1024 * 1024
    max_attempts: int = 3  # targets tried per request before the error reaches the client
    shutdown_grace: float = 30.0  # seconds in-flight requests get to finish on SIGTERM
    # Image URLs fetched for providers that cannot fetch them may point at loopback, private or
    # link-local addresses only when this is on (off: no request forgery into your network).
    media_private_hosts: bool = False
    media_max_images: int = 64  # image URLs one request may have fetched
    media_max_bytes: int = 20 * 1024 * 1024  # what they may add up to (Gemini's inline limit)
    media_fetches_per_request: int = 4  # fetches at once for one request
    media_fetches: int = 16  # fetches at once in a worker
    media_timeout: float = 20.0
    max_answer_bytes: int = 64 * 1024 * 1024  # a provider's non-streamed answer, at most
    max_connections_per_origin: int = 1024  # open at once to one provider host
    max_head_bytes: int = 64 * 1024  # a client's request line and headers (else 431)
    head_timeout: float = 10.0  # seconds a client has to send a request's head (else 408)
    # `provider/model` names: any model of the provider (`any`), only those in its `models`
    # list (`listed`), or none at all (`none`: aliases and listed names only).
    direct_models: Literal["listed", "any", "none"] = "listed"
    # With no gateway key, serving on an address other than loopback needs this on.
    open: bool = False
    # The embedded usage store and the workers' metrics snapshots live here ($PLEXUS_DATA_DIR).
    data_dir: str = msgspec.field(default_factory=lambda: os.environ.get("PLEXUS_DATA_DIR", "data"))
    metrics: bool = True  # `/metrics` and the counters behind it (off: 404)
    # Origins whose pages may call the API from a browser (`*`: any; []: none); unset: any
    # when gateway keys are required, none when the API is open (cors.py).
    cors_origins: list[str] | None = None
    # A token `/metrics` takes besides the gateway keys (`Authorization: Bearer`), for scrapers.
    metrics_token: str | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    # Redis or Valkey (`redis://[:password@]host:port/db`) through which replicas share limits'
    # counters and cooldowns; none: each replica enforces its own (fixed at start).
    redis_url: str | None = None
    # Seconds `rpm` and `tpm` are counted over, pro rata (OpenAI quantizes its limits the same
    # way): shorter smooths bursts; a refused client waits at most about this long.
    limit_window: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0


class LimitsConfig(_Strict):
    """Requests and tokens (input + output) per minute, and requests in flight, at most."""

    rpm: Count | None = None
    tpm: Count | None = None
    max_parallel: Count | None = None


class BudgetConfig(_Strict):
    """A key's spending cap in USD per UTC calendar period (`once`: over its whole life);
    past `warn_at` of it, answers carry the remaining budget and the log says so once."""

    usd: Annotated[float, msgspec.Meta(ge=0)]
    period: Literal["day", "week", "month", "once"] = "month"
    warn_at: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.8


class KeyConfig(_Strict):
    """A gateway key; a key whose secret variable is unset is disabled, never open."""

    secret: str | None = None
    comment: str | None = None
    # Aliases, `provider/model` names and glob patterns (`gpt-4*`, `openai/*`); None: all.
    models: list[str] | None = None
    rpm: Count | None = None
    tpm: Count | None = None
    max_parallel: Count | None = None
    budget: BudgetConfig | None = None
    expires: datetime.datetime | None = None  # UTC; a bare date means its midnight
    disabled: bool = False


class TimeoutConfig(_Strict):
    """Upstream timeouts in seconds: connect, time to first byte, idle between stream reads;
    `ping` is how long a stream may be silent before the client gets a keep-alive."""

    connect: float = 10.0
    first_byte: float = 600.0
    idle: float = 300.0
    ping: float = 15.0


class VertexConfig(_Strict):
    """Google Vertex AI for a gemini provider: the Bearer token is `api_key` when set, else
    minted from the service-account file `credentials` (or application-default credentials)."""

    project: str
    location: str = "global"
    credentials: str | None = None


USDPerMillion = Annotated[float, msgspec.Meta(ge=0)]


class PricingConfig(_Strict):
    """A model's price at a provider in USD per million tokens, over the shipped table's; cache
    reads and writes cost the input price unless given."""

    input: USDPerMillion
    output: USDPerMillion
    cache_read: USDPerMillion | None = None
    cache_write: USDPerMillion | None = None


class ProviderConfig(_Strict):
    """An upstream provider; `preset` fills in `type` and `api_base_url` when they are absent."""

    type: ApiType
    api_base_url: str
    api_key: str | None = None
    preset: str | None = None
    models: list[str] = msgspec.field(default_factory=list)
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    extra_body: dict[str, Any] = msgspec.field(default_factory=dict)
    timeouts: TimeoutConfig = msgspec.field(default_factory=TimeoutConfig)
    adapter: str | None = None
    vertex: VertexConfig | None = None  # gemini type only: call Vertex AI instead of AI Studio
    # False re-encodes same-API traffic through the IR too, for servers whose own streams are
    # not conformant (llama.cpp's Responses stream lacks sequence numbers and indexes).
    passthrough: bool = True
    # Serves OpenAI's legacy text completions (`/completions`, fill-in-the-middle `suffix`), as
    # vLLM, llama.cpp and Ollama's /v1 do, and OpenAI for some models; off: refused with a 400.
    completions: bool = False
    max_concurrency: int | None = None  # requests in flight to this provider at most
    # An HTTP proxy (`http://[user:pass@]host:port`), or `none` to go direct; unset: the
    # HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment.
    proxy: str | None = None
    # Client headers passed on to a provider of the client's own API beyond the safe ones
    # (`anthropic-beta`, `anthropic-version`), e.g. `openai-organization`: they pick what the
    # operator's key is billed to, so only when the operator says so.
    forward_headers: list[str] = msgspec.field(default_factory=list)
    queue_timeout: float = 0.0  # how long a request waits for a slot; 0 fails fast with 429
    # Prices by model name as sent upstream, `*` for any other model (pricing/, README "Cost").
    pricing: dict[str, PricingConfig] = msgspec.field(default_factory=dict)
    limits: LimitsConfig | None = None  # for every key together: the provider's own quota
    # Set by the loader: the variable named by `api_key` that is not set in the environment.
    api_key_missing: str | None = None


class TargetConfig(_Strict):
    """One provider model an alias may route to."""

    provider: str
    model: str
    weight: float = 1.0


class AliasConfig(_Strict):
    """A model name clients ask for, served by one of its targets."""

    targets: list[TargetConfig]
    selector: Selector = "random"
    limits: LimitsConfig | None = None  # for every key together


class UsageConfig(_Strict):
    """The usage store: one row per request, an hourly roll-up."""

    # `sqlite` (a file in server.data_dir), `sqlite:///path/usage.db`, `postgres://…`, `none`.
    database: str = "sqlite"
    retention_days: float = 90.0  # rows older than this are deleted (0: kept)
    buffer_rows: int = 50_000  # rows held while the store is slow or down; beyond: dropped
    flush_seconds: float = 1.0


class AdminConfig(_Strict):
    """The admin API (on when $PLEXUS_ADMIN_KEY is set; docs/admin-api.md)."""

    config_writes: bool = True  # off: the config can be read through the API, not changed


def _otlp_endpoint() -> str:
    """The traces URL of the standard OpenTelemetry environment, as OTel SDKs read it."""
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if endpoint:
        return endpoint
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return base.rstrip("/") + "/v1/traces" if base else ""


def _otlp_headers() -> dict[str, str]:
    """`key=value,...` (values percent-encoded) from the standard environment; a malformed
    entry is skipped, as OTel SDKs do."""
    raw = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
    raw = raw if raw is not None else os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
    headers: dict[str, str] = {}
    for pair in raw.split(","):
        name, equals, value = pair.partition("=")
        if equals and name.strip():
            headers[name.strip().lower()] = unquote(value.strip())
    return headers


Positive = Annotated[float, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(gt=0)]


class TracingConfig(_Strict):
    """OTLP/HTTP trace export, a span per request and per upstream attempt; off without an
    endpoint. Fields left out take the standard OTEL_* environment variables, as OTel SDKs
    do."""

    # The OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces; empty: off.
    endpoint: str = msgspec.field(default_factory=_otlp_endpoint)
    headers: dict[str, str] = msgspec.field(default_factory=_otlp_headers)  # e.g. credentials
    service_name: str = msgspec.field(
        default_factory=lambda: os.environ.get("OTEL_SERVICE_NAME") or "plexus"
    )
    # The share of new traces recorded; a caller's traceparent decides for its own trace.
    sample_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0
    # Finished requests whose spans wait while the collector is slow or down; beyond: dropped.
    queue_requests: Count = 2048
    batch_requests: Count = 512  # requests' spans per export
    flush_seconds: Positive = 5.0
    timeout: Positive = 10.0  # seconds per export request


class ResponsesConfig(_Strict):
    """The Responses store: answers of `/v1/responses` created with `store` on (the API's
    default) are kept in the usage database, so `previous_response_id` and
    `GET/DELETE /v1/responses/{id}` work whatever provider served them. Off by default."""

    store: bool = False
    # Responses older than this are deleted (0: kept).
    retention_days: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    # Responses waiting to be written, at most (the newest are held in memory until written,
    # so a retrieval right after creation finds them); beyond: not stored, counted.
    buffer_bytes: Count = 64 * 1024 * 1024
    timeout: Positive = 5.0  # seconds a read may take before the request gets a 503
    # Seconds a request looks again for an id of the gateway's form that is found nowhere:
    # another worker may have sent that answer and not yet written it (a write takes ms).
    settle_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.5


class Config(_Strict):
    """The whole gateway configuration."""

    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    usage: UsageConfig = msgspec.field(default_factory=UsageConfig)
    admin: AdminConfig = msgspec.field(default_factory=AdminConfig)
    tracing: TracingConfig = msgspec.field(default_factory=TracingConfig)
    responses: ResponsesConfig = msgspec.field(default_factory=ResponsesConfig)
    keys: dict[str, KeyConfig] = msgspec.field(default_factory=dict)
    providers: dict[str, ProviderConfig] = msgspec.field(default_factory=dict)
    models: dict[str, AliasConfig] = msgspec.field(default_factory=dict)


class ConfigError(Exception):
    """The config file is invalid; `problems` lists each with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid config:\n  " + "\n  ".join(problems))
        self.problems = problems


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(value: Any, path: str, unset: dict[str, str]) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; record unset variables by path."""
    if isinstance(value, dict):
        return {
            k: _interpolate(v, f"{path}.{k}" if path else str(k), unset) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", unset) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is not None and (found or default is None):
            return found
        if default is not None:
            return default
        unset[path] = name
        return ""

    return _VAR.sub(replace, value)


def load_config(path: str | Path, adapters: Collection[str] | None = None) -> Config:
    """Read, interpolate and validate a config file; raise ConfigError listing every problem.
    `adapters` are the adapter names a provider may name (None: not checked here)."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror}"]) from error
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError([f"{path}: not valid YAML: {error}"]) from error
    return parse_config(raw if raw is not None else {}, adapters)


def parse_config(raw: Any, adapters: Collection[str] | None = None) -> Config:
    """Validate an already-parsed YAML document (`adapters` as for `load_config`)."""
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): expected a mapping"])
    unset: dict[str, str] = {}
    data = _interpolate(raw, "", unset)
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for name in data:
        if name not in Config.__struct_fields__:
            problems.append(
                f"{name}: unknown section (expected {', '.join(Config.__struct_fields__)})"
            )
    sections["server"] = _convert(data.get("server") or {}, ServerConfig, "server", problems)
    sections["usage"] = _convert(data.get("usage") or {}, UsageConfig, "usage", problems)
    sections["admin"] = _convert(data.get("admin") or {}, AdminConfig, "admin", problems)
    sections["tracing"] = _convert(data.get("tracing") or {}, TracingConfig, "tracing", problems)
    sections["responses"] = _convert(
        data.get("responses") or {}, ResponsesConfig, "responses", problems
    )
    sections["keys"] = _convert_map(_with_expiries(data.get("keys")), KeyConfig, "keys", problems)
    sections["providers"] = _convert_providers(data.get("providers"), unset, problems)
    sections["models"] = _convert_map(data.get("models"), AliasConfig, "models", problems)
    _check_unset(unset, problems)
    config = None
    if not problems:
        config = Config(**{k: v for k, v in sections.items() if v is not None})
        _check_references(config, problems)
        if adapters is not None:
            _check_adapters(config, adapters, problems)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def parse_key(name: str, raw: Any, config: Config) -> KeyConfig:
    """One key's mapping validated as an entry of `keys:` is, against `config` (the admin API's
    stored keys); ConfigError listing every problem at its `keys.<name>` path."""
    problems: list[str] = []
    key = _convert(_with_expiry(raw), KeyConfig, f"keys.{name}", problems)
    if key is not None:
        _check_allowlist(config, name, key.models or [], problems)
    if problems or key is None:
        raise ConfigError(problems)
    return key  # type: ignore[no-any-return]


def _convert(value: Any, kind: type[Any], path: str, problems: list[str]) -> Any:
    try:
        return msgspec.convert(value, kind, strict=False)
    except msgspec.ValidationError as error:
        problems.append(_describe(path, str(error)))
        return None


def _describe(path: str, message: str) -> str:
    """Turn msgspec's `... - at `$.a.b`` into `path.a.b: ...`."""
    match = re.match(r"^(.*) - at `\$(.*)`$", message)
    if match is None:
        return f"{path}: {message}"
    detail, where = match.groups()
    return f"{path}{where}: {detail}"


def _convert_map(value: Any, kind: type[Any], path: str, problems: list[str]) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a mapping")
        return None
    return {name: _convert(item, kind, f"{path}.{name}", problems) for name, item in value.items()}


def _convert_providers(value: Any, unset: dict[str, str], problems: list[str]) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("providers: expected a mapping")
        return None
    providers: dict[str, ProviderConfig] = {}
    for name, item in value.items():
        path = f"providers.{name}"
        if not isinstance(item, dict):
            problems.append(f"{path}: expected a mapping")
            continue
        item = _apply_preset(item, path, problems)
        item = _apply_vertex(item, path, problems)
        if item.get("type") not in API_TYPES:
            problems.append(f"{path}.type: expected one of {', '.join(API_TYPES)}")
            continue
        missing = unset.pop(f"{path}.api_key", None)
        if missing is not None:
            item = {**item, "api_key": None, "api_key_missing": missing}
        # Apart, so that a problem names its model (msgspec writes a dict key as `[...]`).
        pricing = _convert_map(item.get("pricing"), PricingConfig, f"{path}.pricing", problems)
        item = {key: value for key, value in item.items() if key != "pricing"}
        provider = _convert(item, ProviderConfig, path, problems)
        if provider is not None and pricing is not None:
            providers[name] = msgspec.structs.replace(provider, pricing=pricing)
    return providers


def _apply_preset(item: dict[str, Any], path: str, problems: list[str]) -> dict[str, Any]:
    preset_name = item.get("preset")
    if preset_name is None:
        return item
    preset = PRESETS.get(preset_name)
    if preset is None:
        problems.append(
            f"{path}.preset: unknown preset {preset_name!r} (known: {', '.join(PRESETS)})"
        )
        return item
    merged: dict[str, Any] = {"type": preset.type, "api_base_url": preset.api_base_url}
    if preset.adapter is not None:
        merged["adapter"] = preset.adapter
    merged.update(item)
    return merged


def _apply_vertex(item: dict[str, Any], path: str, problems: list[str]) -> dict[str, Any]:
    """A `vertex:` block implies type gemini and the regional base URL of its location."""
    vertex = item.get("vertex")
    if not isinstance(vertex, dict):
        return item
    item = {"type": "gemini", **item}
    if item["type"] != "gemini":
        problems.append(f"{path}.vertex: only a provider of type gemini can use Vertex AI")
    location = vertex.get("location", "global")
    if "api_base_url" not in item and isinstance(location, str):
        item["api_base_url"] = vertex_base_url(location)
    return item


def _check_unset(unset: dict[str, str], problems: list[str]) -> None:
    for path, name in unset.items():
        if re.fullmatch(r"keys\.[^.]+\.secret", path):
            continue  # the key is disabled; the API stays closed
        problems.append(f"{path}: environment variable {name} is not set")


def _check_references(config: Config, problems: list[str]) -> None:
    for alias_name, alias in config.models.items():
        if not alias.targets:
            problems.append(f"models.{alias_name}.targets: at least one target is required")
        for index, target in enumerate(alias.targets):
            if target.provider not in config.providers:
                problems.append(
                    f"models.{alias_name}.targets[{index}].provider: "
                    f"unknown provider {target.provider!r}"
                )
            if target.weight <= 0:
                problems.append(f"models.{alias_name}.targets[{index}].weight: must be positive")
    for name, provider in config.providers.items():
        _check_provider(name, provider, problems)
    for name, key in config.keys.items():
        _check_allowlist(config, name, key.models or [], problems)
    if not 0 < config.server.port < 65536:
        problems.append("server.port: expected 1-65535")
    _check_tracing(config.tracing, problems)
    redis_url = config.server.redis_url
    if redis_url is not None and not _REDIS_URL.fullmatch(redis_url):
        problems.append("server.redis_url: expected redis://[:password@]host[:port][/db]")
    if config.responses.store and config.usage.database == "none":
        problems.append("responses.store: needs a database, and usage.database is none")
    _check_usage(config.usage, problems)


def _check_usage(usage: UsageConfig, problems: list[str]) -> None:
    # Anything else used to mean the SQLite default: a mistyped Postgres URL went unnoticed.
    schemes = ("sqlite:///", "postgres://", "postgresql://")
    if usage.database not in ("sqlite", "none") and not usage.database.startswith(schemes):
        problems.append("usage.database: expected sqlite, sqlite:///path, postgres://…, or none")
    if usage.flush_seconds <= 0:  # the writer would spin, holding the GIL from requests
        problems.append("usage.flush_seconds: must be positive")
    if usage.retention_days < 0:  # a cutoff in the future would delete every row
        problems.append("usage.retention_days: must be 0 (kept) or more")
    if usage.buffer_rows < 0:
        problems.append("usage.buffer_rows: must be 0 or more")


def _with_expiries(keys: Any) -> Any:
    """Keys with `expires` as an aware datetime: YAML reads `2026-01-01` as a date, and a date
    or a time without a zone is taken as UTC."""
    if not isinstance(keys, dict):
        return keys
    return {name: _with_expiry(key) for name, key in keys.items()}


def _with_expiry(key: Any) -> Any:
    expires = key.get("expires") if isinstance(key, dict) else None
    if isinstance(expires, str):
        try:
            expires = datetime.datetime.fromisoformat(expires)
        except ValueError:
            return key  # msgspec names the problem with its path
    if isinstance(expires, datetime.date) and not isinstance(expires, datetime.datetime):
        expires = datetime.datetime.combine(expires, datetime.time())
    if not isinstance(expires, datetime.datetime):
        return key
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=datetime.UTC)
    return {**key, "expires": expires}


def _check_allowlist(config: Config, name: str, models: list[str], problems: list[str]) -> None:
    """An exact name in a key's `models` must be one a client can ask for (a typo there would
    refuse the key silently); patterns are not checked."""
    listed = {model for provider in config.providers.values() for model in provider.models}
    for index, model in enumerate(models):
        if not model:
            problems.append(f"keys.{name}.models[{index}]: expected a model name or pattern")
            continue
        if any(char in model for char in "*?["):
            continue
        provider, slash, _ = model.partition("/")
        if model in config.models or model in listed or (slash and provider in config.providers):
            continue
        problems.append(f"keys.{name}.models[{index}]: no alias, provider or model {model!r}")


_LINE_BREAKS = re.compile(r"[\r\n\x00]")
_REDIS_URL = re.compile(r"rediss?://[^/?\s]+(/\d+)?(\?\S*)?|unix://\S+")


def _check_provider(name: str, provider: ProviderConfig, problems: list[str]) -> None:
    path = f"providers.{name}"
    parts = urlsplit(provider.api_base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{path}.api_base_url: expected an http(s) URL")
    if parts.username is not None or parts.password is not None:
        problems.append(
            f"{path}.api_base_url: credentials in the URL are not sent; use api_key or headers"
        )
    for header, value in provider.headers.items():
        if _LINE_BREAKS.search(header) or _LINE_BREAKS.search(value):
            problems.append(f"{path}.headers.{header}: line breaks are not allowed in a header")
    for header in provider.forward_headers:
        if _LINE_BREAKS.search(header):
            problems.append(f"{path}.forward_headers: line breaks are not allowed in a header")
    for model, price in provider.pricing.items():
        for field in PricingConfig.__struct_fields__:
            if getattr(price, field) == math.inf:
                problems.append(f"{path}.pricing.{model}.{field}: expected a finite price")
    if provider.proxy is not None and provider.proxy != "none":
        proxy = urlsplit(provider.proxy)
        if proxy.scheme != "http" or not proxy.hostname:
            problems.append(f"{path}.proxy: expected http://[user:password@]host:port or none")


def _check_tracing(tracing: TracingConfig, problems: list[str]) -> None:
    if tracing.endpoint:
        parts = urlsplit(tracing.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"tracing.endpoint: expected an http(s) URL, not {tracing.endpoint!r}")
    for header, value in tracing.headers.items():
        if _LINE_BREAKS.search(header) or _LINE_BREAKS.search(value):
            problems.append(f"tracing.headers.{header}: line breaks are not allowed in a header")


def _check_adapters(config: Config, adapters: Collection[str], problems: list[str]) -> None:
    for name, provider in config.providers.items():
        if provider.adapter is not None and provider.adapter not in adapters:
            known = ", ".join(sorted(adapters))
            problems.append(
                f"providers.{name}.adapter: unknown adapter {provider.adapter!r} ({known})"
            )


# Header names whose values are credentials (redacted in logs and by the admin API).
SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie|signature", re.IGNORECASE)


def config_secrets(config: Config) -> list[str]:
    """Every secret the config holds: gateway keys, provider keys, the values of headers that
    carry credentials, proxy passwords (what must never leave the gateway or reach its log)."""
    found = [key.secret for key in config.keys.values() if key.secret]
    for provider in config.providers.values():
        if provider.api_key:
            found.append(provider.api_key)
        found.extend(v for k, v in provider.headers.items() if SECRET_HEADER.search(k))
        if provider.proxy and "@" in provider.proxy:
            found.append(provider.proxy.rsplit("@", 1)[0].split("://", 1)[-1])
    found.extend(value for value in config.tracing.headers.values() if value)  # collector auth
    redis_url = config.server.redis_url
    if redis_url and "@" in redis_url:
        found.append(redis_url.rsplit("@", 1)[0].split("://", 1)[-1])
    return found


def config_path(explicit: str | None) -> str:
    """Return the config path: the flag, else PLEXUS_CONFIG, else the default."""
    return explicit or os.environ.get("PLEXUS_CONFIG") or DEFAULT_CONFIG_PATH
