"""Where the limits meet the usage ledger: tokens a finished request used, and budgets'
spend restored from the usage store at start."""

from __future__ import annotations

import structlog

from plexus import ir
from plexus.config import UsageConfig
from plexus.ledger.readers import StoreUnavailable, open_reader
from plexus.ledger.record import UsageRecord
from plexus.ledger.spend import spend_since
from plexus.limits.gate import Gate

_log = structlog.get_logger("plexus")


def record_tokens(record: UsageRecord) -> int | None:
    """Every token a request used (what `tpm` counts), None when nothing is known."""
    if record.input_tokens is None and record.output_tokens is None:
        return None
    return (
        (record.input_tokens or 0)
        + (record.output_tokens or 0)
        + (record.cache_read_tokens or 0)
        + (record.cache_write_tokens or 0)
    )


def usage_tokens(usage: ir.Usage | None) -> int | None:
    """Every token of an answer's usage, None when it had none."""
    if usage is None:
        return None
    return usage.total_input_tokens + usage.output_tokens


async def restore_spend(gate: Gate, usage: UsageConfig, data_dir: str) -> None:
    """Seed the keys' budgets with what the usage store says they spent this period; a store
    that cannot answer leaves them at zero, with a warning."""
    since = gate.budget_starts()
    if since is None:
        return
    reader = open_reader(usage, data_dir)
    if reader is None:
        return
    try:
        spend = await spend_since(reader, since)
    except StoreUnavailable as error:  # budgets count from zero, and the log says so
        _log.warning("cannot restore budgets' spend: counting from zero", error=str(error))
        return
    finally:
        await reader.close()
    await gate.restore(spend)
