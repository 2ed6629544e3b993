"""Prometheus metrics, hand-written: counters bumped per request (well under a microsecond, no
lock), rendered in the text format on a scrape (platform.md 4).

With several workers each keeps its own counters and writes a snapshot to
`<data_dir>/metrics/<pid>.json` every second; a scrape, whichever worker answers it, sums every
snapshot with its own live counters, so it reports the whole server. A worker whose snapshot is
older than a few seconds is gone: its counters still count, its gauges no longer do.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

import msgspec

from plexus.ledger.record import UsageRecord

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")
STALE_SECONDS = 5.0


class Histogram(msgspec.Struct):
    """Cumulative-on-render bucket counts, their sum and count."""

    counts: list[int]
    total: float = 0.0
    count: int = 0

    @classmethod
    def empty(cls, buckets: tuple[float, ...]) -> Histogram:
        """A histogram with no observations."""
        return cls([0] * (len(buckets) + 1))

    def observe(self, value: float, buckets: tuple[float, ...]) -> None:
        """Count one value."""
        self.counts[bisect.bisect_left(buckets, value)] += 1
        self.total += value
        self.count += 1

    def add(self, other: Histogram) -> None:
        """Fold another worker's histogram in."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total
        self.count += other.count


class Snapshot(msgspec.Struct):
    """One worker's counters and gauges, as written to its file."""

    written: float = 0.0
    requests: dict[str, int] = msgspec.field(default_factory=dict)  # "api|alias|provider|class"
    errors: dict[str, int] = msgspec.field(default_factory=dict)
    tokens: list[int] = msgspec.field(default_factory=lambda: [0] * len(TOKEN_TYPES))
    cost_usd: float = 0.0
    unpriced: int = 0
    fallbacks: int = 0
    duration: Histogram = msgspec.field(default_factory=lambda: Histogram.empty(BUCKETS))
    ttft: Histogram = msgspec.field(default_factory=lambda: Histogram.empty(BUCKETS))
    overhead: Histogram = msgspec.field(default_factory=lambda: Histogram.empty(OVERHEAD_BUCKETS))
    in_flight: int = 0
    queued: int = 0
    dropped: int = 0
    store_up: int = 1
    spans_exported: int = 0
    spans_dropped: int = 0
    shared_up: int = 1  # 0 while server.redis_url is set and unreachable
    responses_dropped: int = 0  # the Responses store's (responses.store)
    responses_up: int = 1


_snapshot = msgspec.json.Decoder(Snapshot)
_encode = msgspec.json.Encoder().encode


class Metrics:
    """This worker's metrics, and the scrape of the whole server."""

    def __init__(self, directory: Path | None = None) -> None:
        self.live = Snapshot()
        self.directory = directory
        self._file = directory / f"{os.getpid()}.json" if directory is not None else None
        # Counted by tuple (cheaper than formatting a label per request), labelled on reads.
        self._requests: dict[tuple[str, str, str, int], int] = {}

    def observe(self, record: UsageRecord) -> None:
        """Count one finished request (a few dict and list updates: ~1 µs)."""
        live = self.live
        label = (record.client_api, record.alias, record.provider, record.status)
        requests = self._requests
        requests[label] = requests.get(label, 0) + 1
        if record.error_kind is not None:
            live.errors[record.error_kind] = live.errors.get(record.error_kind, 0) + 1
        if record.attempts > 1:
            live.fallbacks += 1
        tokens = live.tokens
        if record.input_tokens:
            tokens[0] += record.input_tokens
        if record.output_tokens:
            tokens[1] += record.output_tokens
        if record.cache_read_tokens:
            tokens[2] += record.cache_read_tokens
        if record.cache_write_tokens:
            tokens[3] += record.cache_write_tokens
        if record.reasoning_tokens:
            tokens[4] += record.reasoning_tokens
        if record.cost_usd is not None:
            live.cost_usd += record.cost_usd
        elif record.status < 400 and record.route == "generate":
            live.unpriced += 1
        live.duration.observe(record.duration_ms / 1000, BUCKETS)
        if record.ttft_ms is not None:
            live.ttft.observe(record.ttft_ms / 1000, BUCKETS)
        if record.overhead_ms is not None:
            live.overhead.observe(record.overhead_ms / 1000, OVERHEAD_BUCKETS)

    def _labelled(self) -> Snapshot:
        """The live snapshot with the request counts under their labels."""
        live = self.live
        counts: dict[str, int] = {}
        for (api, alias, provider, status), value in self._requests.items():
            label = f"{api}|{alias}|{provider}|{status // 100 if status else 0}xx"
            counts[label] = counts.get(label, 0) + value
        live.requests = counts
        return live

    def write_snapshot(self) -> None:
        """Write this worker's snapshot for the others' scrapes (every second)."""
        if self._file is None or self.directory is None:
            return
        self._labelled().written = time.time()
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self._file.with_suffix(".part")
        partial.write_bytes(_encode(self.live))
        partial.replace(self._file)

    def render(self, cooldowns: Iterable[tuple[str, str, bool]] = ()) -> bytes:
        """The Prometheus text of the whole server: every worker's snapshot plus this one's."""
        total = _merge([self._labelled(), *self._others()])
        return _render(total, cooldowns).encode()

    def _others(self) -> list[Snapshot]:
        if self.directory is None or not self.directory.is_dir():
            return []
        others: list[Snapshot] = []
        now = time.time()
        for path in self.directory.glob("*.json"):
            if path == self._file:
                continue
            try:
                snapshot = _snapshot.decode(path.read_bytes())
            except (OSError, msgspec.DecodeError):
                continue
            if now - snapshot.written > STALE_SECONDS:
                snapshot.in_flight = snapshot.queued = 0  # a worker gone: no gauges
                snapshot.store_up = snapshot.shared_up = snapshot.responses_up = 1
            others.append(snapshot)
        return others


def clear_snapshots(directory: Path) -> None:
    """Remove the snapshots an earlier run of the server left (called before its workers
    start): they would add that run's counters to this one's, and one file per worker of every
    run would pile up. Counters start again from zero, as Prometheus expects after a restart."""
    for pattern in ("*.json", "*.part"):
        for path in directory.glob(pattern):
            with contextlib.suppress(OSError):
                path.unlink()


def _merge(snapshots: list[Snapshot]) -> Snapshot:
    total = Snapshot()
    for one in snapshots:
        for name in ("requests", "errors"):
            into: dict[str, int] = getattr(total, name)
            for label, value in getattr(one, name).items():
                into[label] = into.get(label, 0) + value
        total.tokens = [a + b for a, b in zip(total.tokens, one.tokens, strict=True)]
        total.cost_usd += one.cost_usd
        total.unpriced += one.unpriced
        total.fallbacks += one.fallbacks
        total.duration.add(one.duration)
        total.ttft.add(one.ttft)
        total.overhead.add(one.overhead)
        total.in_flight += one.in_flight
        total.queued += one.queued
        total.dropped += one.dropped
        total.store_up = min(total.store_up, one.store_up)
        total.spans_exported += one.spans_exported
        total.spans_dropped += one.spans_dropped
        total.shared_up = min(total.shared_up, one.shared_up)
        total.responses_dropped += one.responses_dropped
        total.responses_up = min(total.responses_up, one.responses_up)
    return total


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _histogram(out: list[str], name: str, histogram: Histogram, buckets: tuple[float, ...]) -> None:
    running = 0
    for bound, count in zip(buckets, histogram.counts, strict=False):
        running += count
        out.append(f'{name}_bucket{{le="{bound:g}"}} {running}')
    out.append(f'{name}_bucket{{le="+Inf"}} {histogram.count}')
    out.append(f"{name}_sum {histogram.total:.6f}")
    out.append(f"{name}_count {histogram.count}")


# The label-less series: (name, type, help, the Snapshot field it shows).
_COUNTS = (
    ("plexus_cost_usd_total", "counter", "Cost in US dollars of the priced requests.", "cost_usd"),
    ("plexus_unpriced_requests_total", "counter", "Answered requests with no price.", "unpriced"),
    (
        "plexus_fallbacks_total", "counter", "Requests served after another target failed.",
        "fallbacks",
    ),
)  # fmt: skip
_STATE = (
    ("plexus_in_flight_requests", "gauge", "Requests being served now.", "in_flight"),
    ("plexus_usage_rows_queued", "gauge", "Usage rows waiting for the store.", "queued"),
    (
        "plexus_usage_rows_dropped_total", "counter", "Usage rows dropped: store too slow.",
        "dropped",
    ),
    (
        "plexus_usage_store_up", "gauge", "1 when every worker's usage store is writable.",
        "store_up",
    ),
    ("plexus_trace_spans_exported_total", "counter", "Spans the collector took.", "spans_exported"),
    (
        "plexus_trace_spans_dropped_total", "counter", "Spans lost: buffer full, export failed.",
        "spans_dropped",
    ),
    (
        "plexus_shared_state_up", "gauge", "0 while a worker has lost its Redis/Valkey.",
        "shared_up",
    ),
    (
        "plexus_responses_dropped_total", "counter", "Responses not kept: store too slow.",
        "responses_dropped",
    ),
    (
        "plexus_responses_store_up", "gauge", "1 when every worker's Responses store is up.",
        "responses_up",
    ),
)  # fmt: skip


def _scalars(
    out: list[str], series: tuple[tuple[str, str, str, str], ...], total: Snapshot
) -> None:
    for name, kind, help_text, field in series:
        value = getattr(total, field)
        shown = f"{value:.9f}" if isinstance(value, float) else str(value)
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {shown}"]


def _render(total: Snapshot, cooldowns: Iterable[tuple[str, str, bool]]) -> str:
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")

    family("plexus_requests_total", "counter", "Requests answered.")
    for label, value in sorted(total.requests.items()):
        api, alias, provider, status = (_label(part) for part in label.split("|", 3))
        out.append(
            f'plexus_requests_total{{client_api="{api}",alias="{alias}",'
            f'provider="{provider}",status_class="{status}"}} {value}'
        )
    family("plexus_errors_total", "counter", "Requests that failed, by error kind.")
    for kind, value in sorted(total.errors.items()):
        out.append(f'plexus_errors_total{{kind="{_label(kind)}"}} {value}')
    family("plexus_tokens_total", "counter", "Tokens, by type (the IR's disjoint buckets).")
    for kind, value in zip(TOKEN_TYPES, total.tokens, strict=True):
        out.append(f'plexus_tokens_total{{type="{kind}"}} {value}')
    _scalars(out, _COUNTS, total)
    family("plexus_request_duration_seconds", "histogram", "Time from arrival to the end.")
    _histogram(out, "plexus_request_duration_seconds", total.duration, BUCKETS)
    family("plexus_time_to_first_token_seconds", "histogram", "Time to the first token sent.")
    _histogram(out, "plexus_time_to_first_token_seconds", total.ttft, BUCKETS)
    family("plexus_overhead_seconds", "histogram", "Time not spent waiting on the upstream.")
    _histogram(out, "plexus_overhead_seconds", total.overhead, OVERHEAD_BUCKETS)
    _scalars(out, _STATE, total)
    family("plexus_target_cooling", "gauge", "1 while a target is in its cooldown.")
    for provider, model, cooling in cooldowns:
        out.append(
            f'plexus_target_cooling{{provider="{_label(provider)}",model="{_label(model)}"}} '
            f"{int(cooling)}"
        )
    return "\n".join(out) + "\n"
