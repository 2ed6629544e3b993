"""The request log line written without structlog's processor chain (JSON mode)."""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import UTC, datetime

from plexus.log import AccessWriter


async def test_lines_are_written_together_as_json() -> None:
    stream = io.BytesIO()
    writer = AccessWriter(stream, interval=0.01)
    for i in range(3):
        writer.write({"request_id": f"r{i}", "status": 200, "usage": {"input_tokens": 3}})
    assert stream.getvalue() == b""  # not yet: after the interval
    await asyncio.sleep(0.05)
    lines = stream.getvalue().decode().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["request_id"] for e in entries] == ["r0", "r1", "r2"]
    assert all(e["event"] == "request" and e["level"] == "info" for e in entries)
    assert entries[0]["usage"] == {"input_tokens": 3}
    stamp = entries[0]["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    age = datetime.now(UTC) - datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs(age.total_seconds()) < 5


def test_without_a_loop_the_line_is_written_at_once() -> None:
    stream = io.BytesIO()
    AccessWriter(stream).write({"request_id": "x"})
    assert json.loads(stream.getvalue())["request_id"] == "x"
