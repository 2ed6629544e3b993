"""What each key spent since a moment, from the hourly roll-up (budgets restored at start)."""

from __future__ import annotations

from plexus.ledger.readers import Reader

Spend = dict[str, list[tuple[int, float]]]  # key → (hour, USD) for each hour with a cost
_QUERY = (
    "SELECT key, hour, SUM(cost_usd) FROM usage_hourly WHERE hour >= ? AND key <> '' "
    "GROUP BY key, hour"
)


async def spend_since(reader: Reader, since: float) -> Spend:
    """The cost by key and hour from the hour `since` falls in (budget periods start on the
    hour, so the roll-up is exact for them). Raises StoreUnavailable."""
    spend: Spend = {}
    for key, start, usd in await reader.fetch(_QUERY, (int(since // 3600 * 3600),)):
        spend.setdefault(key, []).append((int(start), float(usd or 0.0)))
    return spend
