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
        "--slow-many",
        "40",
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
    # many slow streams: only direct and plexus take part (--tiny: 3 events, 100 ms apart)
    (many,) = res["slow_many"]
    assert many["contender"] == "direct" and many["streams"] == 40
    r = many["result"]
    assert r["ok"] == 40 and r["errors"] == 0 and r["unfinished"] == 0
    assert r["open_peak"] == 40  # all open at once
    assert 80 < r["gap_ms"]["p50"] < 200
    md = (tmp_path / "RESULTS.md").read_text()
    assert "### chat>chat full" in md
    assert "| bare | 1 |" in md
    assert "## 40 slow streams held open on one worker" in md
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


def test_portkey_is_told_provider_and_upstream_in_headers() -> None:
    """What the load generator would send Portkey, and where it does not run (no npm needed)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import measure
        import scenarios
    finally:
        sys.path.remove(str(ROOT / "bench"))
    upstream = "http://127.0.0.1:9"
    by_key = {s.key: s for s in scenarios.ALL_SCENARIOS}
    expected = {  # scenario: (provider, custom host, end marker)
        "chat>chat stream300": ("openai", f"{upstream}/v1", "[DONE]"),
        "chat>messages stream50": ("anthropic", f"{upstream}/v1", "[DONE]"),
        "chat>gemini full": ("google", upstream, "choices"),
    }
    for key, (provider, host, marker) in expected.items():
        spec = scenarios.request_spec(by_key[key], "portkey", upstream=upstream)
        assert spec["path"] == "/v1/chat/completions"
        assert spec["headers"]["x-portkey-provider"] == provider
        assert spec["headers"]["x-portkey-custom-host"] == host
        assert spec["expect"] == marker
        assert json.loads(spec["body"])["model"] == by_key[key].upstream_model
    # the other contenders' requests are unchanged by Portkey's headers
    for name in ("direct", "bare", "plexus", "litellm"):
        spec = scenarios.request_spec(by_key["chat>chat full"], name, upstream=upstream)
        assert not any(h.startswith("x-portkey") for h in spec["headers"])
    served = {s.key for s in scenarios.ALL_SCENARIOS if scenarios.serves("portkey", s)}
    assert served == {
        "chat>chat full",
        "chat>chat stream50",
        "chat>chat stream300",
        "chat>messages full",
        "chat>messages stream50",
        "chat>gemini full",
    }
    plan = measure.plan_points(["direct", "portkey"], scenarios.ALL_SCENARIOS, [1, 64], 1)
    assert {sc.key for _, sc, _, n in plan if n == "portkey"} == served
    assert len([p for p in plan if p[3] == "direct"]) == 2 * len(scenarios.ALL_SCENARIOS)


def test_plexus_holds_many_streams_by_its_config() -> None:
    """The many slow streams reach the mock's slow model through Plexus's alias, and Plexus may
    open a connection to the mock for each of them (its default cap is 1,024 per origin)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import contenders
        import measure
        import scenarios
    finally:
        sys.path.remove(str(ROOT / "bench"))
    import yaml

    shape = scenarios.SlowMany(8000, 20, 1000)
    cfg = yaml.safe_load(contenders.plexus_config(9, [50], shape))
    assert cfg["server"]["max_connections_per_origin"] > 8000
    target = cfg["models"][shape.alias]["targets"][0]
    assert target == {"provider": "mockchat", "model": "m-e20-d1000"}
    assert "server" not in yaml.safe_load(contenders.plexus_config(9, [50]))
    for name, model in (("direct", "m-e20-d1000"), ("plexus", shape.alias)):
        spec = measure.slow_many_spec(name, shape)
        assert json.loads(spec["body"])["model"] == model
        assert spec["stream"] and spec["expect"] == "[DONE]"
    assert measure.slow_many_targets(["direct", "bare", "plexus", "litellm"], 8000) == [
        "direct",
        "plexus",
    ]
    assert measure.slow_many_targets(["direct", "plexus"], 0) == []


def test_the_platform_cost_comes_from_its_own_longer_points() -> None:
    """The cost table reads the platform-cost points (not the sweep's short ones) and sets
    `untraced` against `lean`, the limits against `plexus`."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import report
    finally:
        sys.path.remove(str(ROOT / "bench"))

    def run(contender: str, rps: float) -> dict[str, Any]:
        times = {"p50": 1.0, "p99": 1.0}
        return {"scenario": "chat>chat full", "contender": contender, "concurrency": 64,
                "rps": rps, "events_per_s": 0.0, "ok": 1, "errors": 0,
                "latency_ms": times, "ttfe_ms": times}  # fmt: skip

    names = ("plexus", "plexus-lean", "plexus-untraced", "plexus-limits")
    res: dict[str, Any] = {
        "options": {"concurrency": [1, 64], "platform_reps": 2, "platform_window": 1.5},
        "contender_order": list(names),
        "scenario_keys": ["chat>chat full"],
        "platform": [run(n, x) for n, x in zip(names, (900, 1000, 960, 810), strict=True)]
        + [run(n, x) for n, x in zip(names, (900, 1000, 940, 810), strict=True)],
    }
    sweep = report.aggregate([run(n, 1) for n in names])  # ignored when there are points
    table = "\n".join(report.render_platform_cost(res, sweep))
    assert "2 interleaved repetitions of 1.5 s" in table
    assert "| chat>chat full | 900 | 1,000 | 10.0% | 950 | 5.0% | 810 | 10.0% |" in table


def test_profile_samples_are_charged_to_the_features_on_their_stack() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import attribution
        import report
    finally:
        sys.path.remove(str(ROOT / "bench"))
    raw = [
        "thread (1): MainThread;handle (plexus/proxy.py:10);send (plexus/http.py:3) 70",
        "thread (1): MainThread;_finish (plexus/app.py:400);add (plexus/ledger/store.py:90) 5",
        "thread (1): MainThread;_finish (plexus/app.py:400);observe (plexus/metrics.py:95) 2",
        "thread (1): MainThread;_run (plexus/tracing/export.py:118);"
        "request (plexus/upstream/httpclient/pool.py:189) 8",  # the spans' POST: traces
        "thread (2): usage-writer;write (plexus/ledger/sqlite.py:91) 7",
        "thread (1): MainThread;_send (plexus/recorder/__init__.py:190) 3",
        "thread (1): MainThread;admit (plexus/limits/gate.py:80) 5",
        "",
    ]
    found = attribution.shares(raw)
    assert found["samples"] == 100
    assert found["share"] == {
        "usage store": 0.12, "metrics": 0.02, "traces": 0.08, "recorder": 0.03, "limits": 0.05
    }  # fmt: skip
    res = {"attribution": [{"scenario": "chat>chat full", "contender": "plexus", "rps": 3000.0,
                            **found}]}  # fmt: skip
    table = "\n".join(report.render_attribution(res))
    row = "| chat>chat full | plexus | 3,000 | 12.0% | 2.0% | 8.0% | 3.0% | 5.0% | 25.0% | 100 |"
    assert row in table
