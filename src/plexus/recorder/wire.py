"""What a worker and its recorder process tell each other: the worker sends `Start`, then
`Providers` and `Batch`es on the child's stdin, each as MessagePack after its length (4 bytes,
big-endian; MessagePack is a third cheaper to make than JSON, and the worker makes one per
request); the child answers `Status` lines of JSON on its stdout, twice a second."""

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
_encode_message = msgspec.msgpack.Encoder().encode
_decoder: msgspec.msgpack.Decoder[ToChild] = msgspec.msgpack.Decoder(ToChild)
decode_message = _decoder.decode
HEAD_BYTES = 4  # a message's length before it
encode_status = msgspec.json.Encoder().encode
decode_status = msgspec.json.Decoder(Status).decode


def frame(message: ToChild) -> bytes:
    """A message to the child, its length before it."""
    payload = _encode_message(message)
    return len(payload).to_bytes(HEAD_BYTES) + payload
