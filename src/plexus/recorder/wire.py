"""What a worker and its recorder process tell each other, one JSON message per line (msgspec
never writes a raw newline inside a value): the worker sends `Start`, then `Providers` and
`Batch`es on the child's stdin; the child answers `Status` lines on its stdout."""

from __future__ import annotations

from typing import Literal

import msgspec

from plexus.config import TracingConfig, UsageConfig
from plexus.ledger.record import UsageRecord
from plexus.tracing.context import TraceContext


class Start(msgspec.Struct, tag="start"):
    """What the child records and where: its first message."""

    usage: UsageConfig | None  # None: no usage store
    data_dir: str
    tracing: TracingConfig | None  # None: no traces
    log_format: Literal["auto", "json", "console"]


class Providers(msgspec.Struct, tag="providers"):
    """gen_ai.provider.name of every configured provider (at start and on each reload)."""

    names: dict[str, str]


class Finished(msgspec.Struct, array_like=True):
    """A finished request: its record, and its trace context when its trace is sampled."""

    record: UsageRecord
    traced: TraceContext | None


class Batch(msgspec.Struct, tag="batch"):
    """Finished requests, in the order they finished."""

    finished: list[Finished]


class Status(msgspec.Struct):
    """The child's counters since it started (every half second, and as it ends)."""

    received: int = 0  # finished requests taken
    written: int = 0  # usage rows written
    rows_queued: int = 0  # usage rows not written yet
    rows_dropped: int = 0  # usage rows that will never be written
    store_up: bool = True
    spans_exported: int = 0
    spans_dropped: int = 0  # the buffer was full, or the collector refused them


ToChild = Start | Providers | Batch

encode = msgspec.json.Encoder().encode
decode_message = msgspec.json.Decoder(ToChild).decode
decode_status = msgspec.json.Decoder(Status).decode
