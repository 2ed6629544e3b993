"""`plexus usage`: the usage store summarised for operators, as a table or JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from plexus.app import Gateway
from plexus.cli import main
from plexus.config import load_config
from plexus.ledger.record import UsageRecord
from plexus.ledger.sqlite import SQLiteBackend
from tests.conftest import Upstreams, run_gateway

HI: Any = [{"role": "user", "content": "hi"}]


def _config_file(upstreams: Upstreams, tmp_path: Path) -> Path:
    raw = {
        "usage": {"database": f"sqlite:///{tmp_path / 'usage.db'}"},
        "providers": {
            f"mock-{api}": {
                "type": api,
                "api_base_url": upstreams.base_url(api),
                "api_key": "upstream-key",
            }
            for api in ("chat", "messages")
        },
        "models": {
            f"{api}-model": {"targets": [{"provider": f"mock-{api}", "model": f"up-{api}"}]}
            for api in ("chat", "messages")
        },
    }
    path = tmp_path / "plexus.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _plexus(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "plexus.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=os.environ)


@pytest.mark.slow
async def test_usage_summarises_a_real_gateway_run(upstreams: Upstreams, tmp_path: Path) -> None:
    path = _config_file(upstreams, tmp_path)
    gateway = Gateway(load_config(path), str(path))
    async with run_gateway(gateway.config, gateway) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        for model in ("chat-model", "chat-model", "messages-model"):
            await client.chat.completions.create(model=model, messages=HI)
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="nope", messages=HI)
    # The gateway's stop flushed the store; the CLI reads it from another process.
    answer = _plexus("usage", "--config", str(path), "--by", "provider", "--json")
    assert answer.returncode == 0, answer.stderr
    rows = {row["group"]: row for row in json.loads(answer.stdout)["rows"]}
    assert {name: (r["requests"], r["errors"], r["output_tokens"]) for name, r in rows.items()} == {
        "": (1, 1, 0),
        "mock-chat": (2, 0, 14),
        "mock-messages": (1, 0, 7),
    }
    # The mocks' models have no price: counted as unpriced, never as free.
    assert all(row["unpriced"] == row["requests"] for row in rows.values())
    table = _plexus("usage", "--config", str(path), "--by", "alias", "--since", "1h")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["alias", "requests", "errors"]
    chat = next(line for line in lines if line.startswith("chat-model"))
    assert chat.split()[1:3] == ["2", "0"] and " - " in chat and "0.0" not in chat


def test_priced_and_unpriced_requests_are_told_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "usage.db"
    backend = SQLiteBackend(store)
    now = 1_750_000_000.0
    backend.write(
        [
            UsageRecord(request_id="a", time=now, client_api="chat", key="alice", status=200,
                        input_tokens=1000, cost_usd=0.25),
            UsageRecord(request_id="b", time=now, client_api="chat", key="alice", status=200,
                        input_tokens=10, cost_usd=None),
            UsageRecord(request_id="c", time=now, client_api="chat", key="bob", status=500),
        ]
    )  # fmt: skip
    backend.close()
    config = tmp_path / "plexus.yaml"
    config.write_text(f"usage: {{database: 'sqlite:///{store}'}}\n")
    window = ["--since", str(now - 60), "--until", str(now + 60)]
    main(["usage", "--config", str(config), "--by", "key", *window])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["alice", "2", "0", "1,010", "0", "0", "0", "0", "0.250000", "1"]
    assert lines[2].split() == ["bob", "1", "1", "0", "0", "0", "0", "0", "-", "1"]
    assert lines[3].split()[0] == "(total)" and lines[3].split()[-2:] == ["0.250000", "2"]
    main(["usage", "--config", str(config), "--json", *window])
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert (row["requests"], row["errors"], row["cost_usd"], row["unpriced"]) == (3, 1, 0.25, 2)
    with pytest.raises(SystemExit):
        main(["usage", "--config", str(config), "--since", "yesterday"])
