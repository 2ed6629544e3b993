"""Monitoring endpoints: the overview, usage (JSON or CSV), the request log and one request's
detail, the audit log, target health and its reset, and the OpenAPI document."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

import msgspec

from plexus.admin.call import Call, Reply, reply
from plexus.admin.wire import (
    AuditPage,
    HealthList,
    HealthReset,
    RequestPage,
    Reset,
    TargetHealth,
    UsageRows,
    bad_request,
    not_found,
)
from plexus.health import Health
from plexus.ledger.query import Filters, GroupBy, Period, UsageRow, parse_time, status_condition
from plexus.routing import Target

if TYPE_CHECKING:
    from plexus.admin.api import AdminApi

MAX_OVERVIEW_SECONDS = 31 * 86400
MAX_BUCKETS = 2000
PERIODS = ("hour", "day", "week", "month", "total")
GROUPS = ("key", "alias", "provider", "model", "none")
CSV_COLUMNS = tuple(UsageRow.__struct_fields__)
_FORMULA_STARTS = frozenset("=+-@\t\r")


def window(call: Call) -> tuple[float, float]:
    """The `since`/`until` of a call (default: the last 24 hours); 400 when unreadable."""
    now = time.time()
    try:
        since = parse_time(call.text("since", "24h") or "24h", now)
        until_text = call.text("until")
        until = parse_time(until_text, now) if until_text else now
    except ValueError as error:
        raise bad_request(f"since/until: {error}") from error
    if until <= since:
        raise bad_request("since/until: `until` must come after `since`")
    return since, until


def _default_bucket(seconds: float) -> int:
    for limit, bucket in ((3600, 60), (6 * 3600, 300), (7 * 86400, 3600)):
        if seconds <= limit:
            return bucket
    return 86400


async def overview(admin: AdminApi, call: Call) -> Reply:
    """Traffic per bucket with latency and TTFT percentiles, totals and top names."""
    queries = admin.require_queries()
    since, until = window(call)
    span = until - since
    if span > MAX_OVERVIEW_SECONDS:
        raise bad_request("the overview covers at most 31 days: use /usage for longer periods")
    bucket = call.integer("bucket", _default_bucket(span), 1, MAX_OVERVIEW_SECONDS)
    if span / bucket > MAX_BUCKETS:
        raise bad_request(f"bucket: at most {MAX_BUCKETS} buckets per window")
    return reply(await queries.overview(since, until, bucket))


async def usage(admin: AdminApi, call: Call) -> Reply:
    """Usage by period × group, as JSON or CSV."""
    queries = admin.require_queries()
    since, until = window(call)
    period = cast(Period, call.choice("period", PERIODS, "day"))
    by = cast(GroupBy, call.choice("by", GROUPS, "none"))
    form = call.choice("format", ("json", "csv"), "json")
    rows = await queries.usage(since, until, period, by)
    if form == "json":
        return reply(UsageRows(rows))
    headers = [(b"content-type", b"text/csv; charset=utf-8"),
               (b"content-disposition", b'attachment; filename="plexus-usage.csv"')]  # fmt: skip
    return Reply(200, _csv(rows).encode(), headers)


def _csv(rows: Iterable[UsageRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`: an alias is
    whatever model name a client sent) made plain text with a leading quote."""
    if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
        return "'" + value
    return value


async def requests(admin: AdminApi, call: Call) -> Reply:
    """A page of the request log, newest first, filtered."""
    queries = admin.require_queries()
    since, until = window(call)
    status = call.text("status")
    if status is not None:
        try:
            status_condition(status, [])
        except ValueError as error:
            raise bad_request(str(error)) from error
    filters = Filters(since=since, until=until, key=call.text("key"), alias=call.text("alias"),
                      provider=call.text("provider"), status=status)  # fmt: skip
    limit = call.integer("limit", 50, 1, 500)
    try:
        page, following = await queries.requests(filters, limit, call.text("cursor"))
    except ValueError as error:
        raise bad_request(str(error)) from error
    return reply(RequestPage(page, following))


async def request(admin: AdminApi, call: Call) -> Reply:
    """One request's record with its attempt trail."""
    found = await admin.require_queries().request(call.params["request_id"])
    if found is None:
        raise not_found(f"no request {call.params['request_id']} in the usage store")
    return reply(found)


async def audit(admin: AdminApi, call: Call) -> Reply:
    """A page of the audit log, newest first."""
    queries = admin.require_queries()
    limit = call.integer("limit", 50, 1, 500)
    cursor = call.text("cursor")
    if cursor is not None and not cursor.isdigit():
        raise bad_request("cursor: not a cursor this API gave")
    entries = await queries.audit_log(limit, int(cursor) if cursor else None)
    following = str(entries[-1].id) if len(entries) == limit else None
    return reply(AuditPage(entries, following))


def target_health(health: Health, targets: list[Target]) -> list[TargetHealth]:
    """Each target's state: cooling (until when, Unix seconds) or ok, and its failures."""
    keys = dict.fromkeys([t.key for t in targets] + health.known())
    mono, wall = time.monotonic(), time.time()
    entries = []
    for key in keys:
        until = health.cooling_until(key)
        cooling = until > mono
        entries.append(TargetHealth(key[0], key[1], "cooling" if cooling else "ok",
                                    wall + until - mono if cooling else None,
                                    health.failures(key)))  # fmt: skip
    return entries


async def health(admin: AdminApi, call: Call) -> Reply:
    """Every alias target's (and every other called target's) health."""
    gateway = admin.gateway
    return reply(HealthList(target_health(gateway.health, gateway.router.targets())))


async def reset_health(admin: AdminApi, call: Call) -> Reply:
    """End the cooldowns of a provider's targets, or of one of its models."""
    wanted = call.decode(HealthReset)
    if wanted.provider not in admin.gateway.config.providers:
        raise not_found(f"no provider {wanted.provider!r}")
    count = admin.gateway.health.reset(wanted.provider, wanted.model)
    target = wanted.provider + (f"/{wanted.model}" if wanted.model else "")
    await admin.audit("health.reset", target, {"targets": count})
    return reply(Reset(count))


async def openapi(admin: AdminApi, call: Call) -> Reply:
    """This API's OpenAPI 3.1 document."""
    from plexus.admin.openapi import document

    return Reply(200, msgspec.json.encode(document()), [(b"content-type", b"application/json")])
