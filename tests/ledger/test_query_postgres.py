"""The usage queries of tests/ledger/test_query.py, on a real Postgres: the same store (written
by the Postgres backend) must answer the same, whichever database holds it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from plexus.ledger.postgres import PostgresBackend
from plexus.ledger.query import Queries
from plexus.ledger.readers import PostgresReader
from plexus.ledger.record import UsageRecord
from tests.ledger.test_query import (
    MONDAY,
    record,
    test_overview_percentiles_by_nearest_rank,
    test_request_log_pages_newest_first,
    test_usage_by_period_and_group,
)

pytestmark = pytest.mark.slow

__all__ = [
    "test_overview_percentiles_by_nearest_rank",
    "test_request_log_pages_newest_first",
    "test_usage_by_period_and_group",
]


@pytest.fixture
async def queries(pg_url: str) -> AsyncIterator[Queries]:
    """The store of test_query.py's `queries`, on Postgres."""
    records = [record(n, MONDAY + n * 60) for n in range(1, 101)]
    records.append(record(101, MONDAY + 86400 * 8, key="bob", cost_usd=None, status=502))
    records.append(record(102, MONDAY + 86400 * 30, alias="other", provider="q"))
    await asyncio.to_thread(_write, pg_url, records)  # the backend runs a loop of its own
    reader = PostgresReader(pg_url)
    yield Queries(reader)
    await reader.close()


def _write(url: str, records: list[UsageRecord]) -> None:
    backend = PostgresBackend(url)
    backend.write(records)
    backend.close()
