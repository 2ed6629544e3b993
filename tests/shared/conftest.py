"""A real Valkey per test (the `Valkey` server of valkey.py, beside this file)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.shared.valkey import Valkey


@pytest.fixture
async def valkey(tmp_path: Path) -> AsyncIterator[Valkey]:
    server = Valkey(tmp_path / "valkey")
    await server.start()
    yield server
    await server.kill()
