"""The hourly roll-up of a batch of records: one row per hour × key × alias × provider ×
model × client API, added onto what the table holds."""

from __future__ import annotations

from plexus.ledger.record import UsageRecord

RollupKey = tuple[int, str, str, str, str, str]
ROLLUP_COLUMNS = (
    "hour", "key", "alias", "provider", "upstream_model", "client_api", "requests", "errors",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "unpriced", "duration_ms",
)  # fmt: skip
SUMMED = ROLLUP_COLUMNS[6:]


def rollup(records: list[UsageRecord]) -> list[tuple[object, ...]]:
    """The roll-up rows of `records`, in ROLLUP_COLUMNS order."""
    rows: dict[RollupKey, list[float]] = {}
    for record in records:
        hour = int(record.time // 3600 * 3600)
        key = (hour, record.key, record.alias, record.provider, record.upstream_model,
               record.client_api)  # fmt: skip
        sums = rows.get(key)
        if sums is None:
            sums = rows[key] = [0.0] * len(SUMMED)
        sums[0] += 1
        sums[1] += record.status >= 400 or record.status == 0
        sums[2] += record.input_tokens or 0
        sums[3] += record.output_tokens or 0
        sums[4] += record.cache_read_tokens or 0
        sums[5] += record.cache_write_tokens or 0
        sums[6] += record.reasoning_tokens or 0
        if record.cost_usd is None:
            sums[8] += 1
        else:
            sums[7] += record.cost_usd
        sums[9] += record.duration_ms
    return [(*key, *(int(v) for v in sums[:7]), sums[7], int(sums[8]), sums[9])
            for key, sums in rows.items()]  # fmt: skip
