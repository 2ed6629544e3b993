"""Keeps the benchmark harness working: a tiny, untimed run of bench/run.py (direct + bare)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "bench" / "run.py"


def _run(tmp_path: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--tiny",
            "--contenders",
            "direct,bare",
            "--out-dir",
            str(tmp_path),
            "--results-json",
            str(tmp_path / "raw" / "results.json"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data: dict[str, Any] = json.loads((tmp_path / "raw" / "results.json").read_text())
    return data


def test_tiny_run_measures_direct_and_bare(tmp_path: Path) -> None:
    res = _run(
        tmp_path,
        "--scenarios",
        "chat>chat full,chat>messages stream50",
        "--soak",
        "200",
        "--slow-streams",
        "10",
    )
    runs = res["runs"]
    seen = {(r["contender"], r["scenario"]) for r in runs}
    assert seen == {
        ("direct", "chat>chat full"),
        ("bare", "chat>chat full"),
        ("direct", "chat>messages stream50"),
        ("bare", "chat>messages stream50"),
    }
    for r in runs:
        assert r["ok"] > 0, r
        assert r["errors"] == 0, r["error_samples"]
        assert r["latency_ms"]["p50"] is not None
        if "stream" in r["scenario"]:
            assert r["events"] >= 50 * r["ok"]
            assert r["ttfe_ms"]["p50"] is not None
    soak = res["soak"][0]
    assert soak["contender"] == "bare"
    assert soak["result"]["errors"] == 0
    assert soak["result"]["aborted"] > 0
    assert len(soak["rss_mb"]) >= 2
    slow = {s["contender"]: s["result"] for s in res["slow"]}
    assert set(slow) == {"direct", "bare"}
    for r in slow.values():
        assert r["ok"] == 10 and r["errors"] == 0
        assert 15 < r["gap_ms"]["p50"] < 60  # the mock sends one event every 20 ms
    md = (tmp_path / "RESULTS.md").read_text()
    assert "### chat>chat full" in md
    assert "| bare | 1 |" in md
    assert res["machine"]["nproc"] >= 1
    # --render rebuilds the same RESULTS.md from the raw numbers alone
    raw, again = tmp_path / "raw" / "results.json", tmp_path / "again"
    subprocess.run(
        [sys.executable, str(RUN), "--render", str(raw), "--out-dir", str(again)],
        capture_output=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    assert (again / "RESULTS.md").read_text() == md


def test_every_protocol_is_served_by_the_mock(tmp_path: Path) -> None:
    """The direct contender alone over every scenario: the mock answers each protocol well."""
    res = _run(tmp_path, "--contenders", "direct", "--soak", "0", "--slow-streams", "0")
    assert len(res["scenario_keys"]) >= 10
    for r in res["runs"]:
        assert r["ok"] > 0 and r["errors"] == 0, (r["scenario"], r["error_samples"])
