"""Plexus benchmark: Plexus against the direct call, a bare forwarder and LiteLLM, in one run.

``make bench`` (full, < 10 minutes on 2 cores) or ``make bench-quick``; see ``bench/README.md``.

Processes: one mock upstream (``mock_upstream.py``), one load generator (``loadgen.py``, fed jobs
over stdin), and the contenders, all pointed at the same mock and started before any measurement:

- ``direct``      the load generator calls the mock in the provider's own protocol (physical limit)
- ``bare``        ``bare_forwarder.py``: uvicorn + raw ASGI + aiohttp + msgspec, no translation
                  (it forwards the client protocol to the same protocol: the practical limit)
- ``plexus``      ``plexus serve`` (skipped with a note when it does not start)
- ``litellm``     LiteLLM proxy (pinned, own virtualenv, no database), and ``litellm-rust`` with
                  ``LITELLM_RUST=true`` (its Rust paths); skipped with a note if it can't be
                  installed

Gateways run with 1 worker at every concurrency and with 2 workers (``name×2``) at the highest.
Points are interleaved (every contender runs a point before the next point starts) and the whole
sweep is repeated ``--reps`` times so that noise shows. Results: ``bench/RESULTS.md`` and
``bench/results.json`` (or ``--out-dir``), and the table on the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
LITELLM_VERSION = "1.108.7"
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_KEY = "sk-bench-7f3c9a2e5b1d4f6a8c0e2b4d6f8a1c3e"
CLIENT_PATHS = {
    "chat": "/v1/chat/completions",
    "messages": "/v1/messages",
    "responses": "/v1/responses",
}
# What a good answer must contain, by the protocol the client receives.
EXPECT_FULL = {
    "chat": "choices",
    "messages": "content",
    "responses": "output",
    "gemini": "candidates",
}
EXPECT_STREAM = {
    "chat": "[DONE]",
    "messages": "message_stop",
    "responses": "response.completed",
    "gemini": "finishReason",
}
CLIENT_HEADERS = {
    "Authorization": f"Bearer {LITELLM_KEY}",
    "x-api-key": LITELLM_KEY,
    "anthropic-version": "2023-06-01",
}
PROMPT = "Summarise the benefits of a unified LLM gateway in three short paragraphs, please."
SYSTEM = "You are a concise assistant."


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True)
class Scenario:
    client: str  # chat | messages | responses
    provider: str  # chat | messages | responses | gemini
    stream: bool
    events: int = 50

    @property
    def key(self) -> str:
        kind = f"stream{self.events}" if self.stream else "full"
        return f"{self.client}>{self.provider} {kind}"

    @property
    def translated(self) -> bool:
        return self.client != self.provider

    @property
    def upstream_model(self) -> str:
        return "m" if self.events == 50 else f"m-e{self.events}"

    def alias(self, provider: str | None = None) -> str:
        base = f"bench-{provider or self.provider}"
        return base if self.events == 50 else f"{base}-e{self.events}"


ALL_SCENARIOS = [
    Scenario("chat", "chat", False),
    Scenario("chat", "chat", True),
    Scenario("chat", "chat", True, 300),
    Scenario("chat", "messages", False),
    Scenario("chat", "messages", True),
    Scenario("messages", "chat", False),
    Scenario("messages", "chat", True),
    Scenario("responses", "messages", False),
    Scenario("responses", "messages", True),
    Scenario("chat", "gemini", False),
    Scenario("chat", "gemini", True),
]


def client_body(proto: str, model: str, stream: bool) -> dict[str, Any]:
    if proto == "chat":
        body: dict[str, Any] = {
            "model": model,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": PROMPT},
            ],
            "max_tokens": 512,
            "temperature": 0.7,
        }
    elif proto == "messages":
        body = {
            "model": model,
            "max_tokens": 512,
            "system": SYSTEM,
            "messages": [{"role": "user", "content": PROMPT}],
            "temperature": 0.7,
        }
    elif proto == "responses":
        body = {
            "model": model,
            "instructions": SYSTEM,
            "input": PROMPT,
            "max_output_tokens": 512,
            "temperature": 0.7,
        }
    elif proto == "gemini":
        return {
            "systemInstruction": {"parts": [{"text": SYSTEM}]},
            "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
            "generationConfig": {"maxOutputTokens": 512, "temperature": 0.7},
        }
    else:
        raise ValueError(proto)
    if stream:
        body["stream"] = True
    return body


def request_spec(sc: Scenario, contender: str, abort: bool = False) -> dict[str, Any]:
    """The load generator's request for one scenario against one contender."""
    if contender == "direct":
        proto = sc.provider
        if proto == "gemini":
            verb = "streamGenerateContent?alt=sse" if sc.stream else "generateContent"
            path = f"/v1beta/models/{sc.upstream_model}:{verb}"
        else:
            path = CLIENT_PATHS[proto]
        body = client_body(proto, sc.upstream_model, sc.stream)
        headers = {**CLIENT_HEADERS, "x-goog-api-key": "x"}
    else:
        proto = sc.client
        path = CLIENT_PATHS[proto]
        # The bare forwarder does not translate: it gets the client protocol's own alias.
        model = sc.alias(sc.client) if contender.startswith("bare") else sc.alias()
        body = client_body(proto, model, sc.stream)
        headers = CLIENT_HEADERS
    expect = (EXPECT_STREAM if sc.stream else EXPECT_FULL)[proto]
    return {
        "path": path,
        "body": json.dumps(body),
        "stream": sc.stream,
        "expect": expect,
        "headers": headers,
        "abort": abort,
    }


# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pid: int) -> list[int]:
    kids = children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


@dataclass
class Proc:
    name: str
    port: int
    popen: subprocess.Popen[bytes] | None
    health: str
    log: Path
    workers: int = 1
    start_s: float | None = None
    idle_rss_mb: list[float] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def refresh_pids(self) -> None:
        self.pids = tree(self.popen.pid) if self.popen is not None else []

    def rss_mb(self) -> float:
        return sum(rss_kb(p) for p in self.pids) / 1024

    def cpu(self) -> float:
        return sum(cpu_s(p) for p in self.pids)

    def worker_rss_mb(self) -> list[float]:
        """RSS of each serving process (the leaves of the process tree)."""
        kids = children_map()
        leaves = [p for p in self.pids if not kids.get(p)]
        return [round(rss_kb(p) / 1024, 1) for p in leaves]

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=8)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


def spawn(
    name: str,
    cmd: list[str],
    env: dict[str, str],
    port: int,
    health: str,
    logdir: Path,
    workers: int = 1,
) -> Proc:
    log = logdir / f"{name}.log"
    fh = open(log, "wb")  # noqa: SIM115 - kept open for the child's lifetime
    full_env = {**os.environ, **env}
    full_env.pop("DATABASE_URL", None)  # no database for any contender
    popen = subprocess.Popen(
        cmd,
        env=full_env,
        stdout=fh,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=str(ROOT),
    )
    return Proc(name, port, popen, health, log, workers)


def wait_healthy(procs: list[Proc], timeout: float, t0: float) -> None:
    pending = [p for p in procs if p.start_s is None]
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for p in list(pending):
            if not p.alive:
                p.note = f"exited with code {p.popen.returncode if p.popen else '?'} (see log)"
                pending.remove(p)
            elif http_ok(f"http://127.0.0.1:{p.port}{p.health}", 0.5):
                p.start_s = round(time.monotonic() - t0, 2)
                pending.remove(p)
        time.sleep(0.1)
    for p in pending:
        p.note = f"not healthy after {timeout:.0f} s"
        p.stop()


def start_mock(logdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    popen = subprocess.Popen(
        [PY, str(BENCH / "mock_upstream.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=open(logdir / "mock.log", "wb"),  # noqa: SIM115
        start_new_session=True,
    )
    assert popen.stdout is not None
    line = popen.stdout.readline().decode()
    if not line.startswith("READY "):
        raise RuntimeError(f"mock upstream did not start: {line!r}")
    return popen, int(line.split()[1])


def plexus_cmd() -> list[str] | None:
    exe = Path(PY).parent / "plexus"
    if not exe.exists():
        return None
    try:
        out = subprocess.run(
            [str(exe), "--help"], capture_output=True, timeout=30, check=False, text=True
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 or "serve" not in out.stdout:
        return None
    return [str(exe)]


def plexus_config(mock_port: int, events: list[int]) -> str:
    base = f"http://127.0.0.1:{mock_port}"
    lines = ["providers:"]
    for t in ("chat", "messages", "responses", "gemini"):
        api = f"{base}/v1beta" if t == "gemini" else f"{base}/v1"
        lines.append(f'  mock{t}: {{type: {t}, api_base_url: "{api}", api_key: x}}')
    lines.append("models:")
    for t in ("chat", "messages", "responses", "gemini"):
        for e in events:
            alias = f"bench-{t}" if e == 50 else f"bench-{t}-e{e}"
            model = "m" if e == 50 else f"m-e{e}"
            lines.append(f"  {alias}: {{targets: [{{provider: mock{t}, model: {model}}}]}}")
    lines.append("  bench-chat-slow: {targets: [{provider: mockchat, model: m-e100-d20}]}")
    return "\n".join(lines) + "\n"


def litellm_config(mock_port: int, events: list[int]) -> str:
    base = f"http://127.0.0.1:{mock_port}"
    prefix = {"chat": "openai", "messages": "anthropic", "responses": "openai", "gemini": "gemini"}
    api = {
        "chat": f"{base}/v1",
        "messages": base,
        "responses": f"{base}/v1",
        "gemini": f"{base}/v1beta",
    }
    lines = ["model_list:"]
    for t in ("chat", "messages", "gemini"):
        for e in events:
            alias = f"bench-{t}" if e == 50 else f"bench-{t}-e{e}"
            model = "m" if e == 50 else f"m-e{e}"
            lines += [
                f"  - model_name: {alias}",
                f'    litellm_params: {{model: {prefix[t]}/{model}, api_base: "{api[t]}", '
                "api_key: x}",
            ]
    lines += [
        "litellm_settings:",
        "  telemetry: false",
        "  drop_params: true",
        "  set_verbose: false",
        "  json_logs: false",
        "general_settings:",
        "  disable_spend_logs: true",
    ]
    return "\n".join(lines) + "\n"


def ensure_litellm(log: Path, progress: Progress) -> tuple[Path | None, str]:
    exe = LITELLM_VENV / "bin" / "litellm"
    marker = LITELLM_VENV / f".installed-{LITELLM_VERSION}"
    if exe.exists() and marker.exists():
        return exe, ""
    progress.say(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} (once) ...")
    t0 = time.monotonic()
    try:
        with open(log, "wb") as fh:
            if not (LITELLM_VENV / "bin" / "pip").exists():
                subprocess.run(
                    [PY, "-m", "venv", "--clear", str(LITELLM_VENV)],
                    check=True,
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    timeout=120,
                )
            subprocess.run(
                [
                    str(LITELLM_VENV / "bin" / "pip"),
                    "install",
                    "-q",
                    f"litellm[proxy]=={LITELLM_VERSION}",
                ],
                check=True,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=600,
            )
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"LiteLLM skipped: installing litellm[proxy]=={LITELLM_VERSION} failed ({e})"
    if not exe.exists():
        return None, "LiteLLM skipped: no litellm executable after install"
    marker.write_text("ok\n")
    progress.say(f"litellm installed in {time.monotonic() - t0:.0f} s")
    return exe, ""


# ---------------------------------------------------------------------------------------------
# Load generator client and resource sampling


class LoadGen:
    def __init__(self) -> None:
        self.p = subprocess.Popen(
            [PY, str(BENCH / "loadgen.py"), "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        first = self._read()
        assert first.get("ready"), first

    def _read(self) -> dict[str, Any]:
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("load generator died")
        return dict(json.loads(line))

    def run(self, job: dict[str, Any], on_progress: Any = None) -> dict[str, Any]:
        assert self.p.stdin is not None
        self.p.stdin.write((json.dumps(job) + "\n").encode())
        self.p.stdin.flush()
        while True:
            msg = self._read()
            if "progress" in msg:
                if on_progress:
                    on_progress(int(msg["progress"]))
                continue
            res = dict(msg["result"])
            if "fatal" in res:
                raise RuntimeError(f"load generator: {res['fatal']}")
            return res

    def close(self) -> None:
        if self.p.poll() is None:
            assert self.p.stdin is not None
            self.p.stdin.close()
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()


@contextlib.contextmanager
def sampling(proc: Proc | None, mock_pid: int) -> Iterator[dict[str, float]]:
    """CPU (cores busy) and peak RSS of a contender's process tree while the block runs."""
    out: dict[str, float] = {}
    if proc is None:
        t0, m0 = time.monotonic(), cpu_s(mock_pid)
        yield out
        wall = max(time.monotonic() - t0, 1e-9)
        out["mock_cpu"] = round((cpu_s(mock_pid) - m0) / wall, 2)
        return
    proc.refresh_pids()
    stop = threading.Event()
    peak = [proc.rss_mb()]

    def sampler() -> None:
        while not stop.wait(0.1):
            peak[0] = max(peak[0], proc.rss_mb())

    th = threading.Thread(target=sampler, daemon=True)
    t0, c0, m0 = time.monotonic(), proc.cpu(), cpu_s(mock_pid)
    th.start()
    try:
        yield out
    finally:
        stop.set()
        th.join()
        wall = max(time.monotonic() - t0, 1e-9)
        out["cpu"] = round((proc.cpu() - c0) / wall, 2)
        out["mock_cpu"] = round((cpu_s(mock_pid) - m0) / wall, 2)
        out["peak_rss_mb"] = round(max(peak[0], proc.rss_mb()), 1)


class Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.t0 = time.monotonic()
        self.t_plan = self.t0

    def say(self, msg: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    def begin(self, total: int) -> None:
        self.total = total
        self.t_plan = time.monotonic()

    def step(self, msg: str) -> None:
        self.done += 1
        el = time.monotonic() - self.t0
        per = (time.monotonic() - self.t_plan) / self.done
        eta = per * (self.total - self.done)
        pct = 100 * self.done / max(self.total, 1)
        print(
            f"[{el:6.1f}s {self.done:3d}/{self.total} {pct:3.0f}% eta {eta:4.0f}s] {msg}",
            file=sys.stderr,
            flush=True,
        )


# ---------------------------------------------------------------------------------------------
# Aggregation and report


def med(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def fmt(x: float | None, nd: int = 1) -> str:
    if x is None:
        return "–"
    if nd == 0 or abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def aggregate(runs: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Median over repetitions per (scenario, contender, concurrency)."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["scenario"], r["contender"], r["concurrency"]), []).append(r)
    agg: dict[tuple[str, str, int], dict[str, Any]] = {}
    for k, rs in groups.items():
        rps = [r["rps"] for r in rs]
        agg[k] = {
            "reps": len(rs),
            "rps": med(rps),
            "rps_min": min(rps),
            "rps_max": max(rps),
            "p50": med([r["latency_ms"]["p50"] for r in rs]),
            "p99": med([r["latency_ms"]["p99"] for r in rs]),
            "ttfe_p50": med([r["ttfe_ms"]["p50"] for r in rs]),
            "ttfe_p99": med([r["ttfe_ms"]["p99"] for r in rs]),
            "eps": med([r["events_per_s"] for r in rs]),
            "errors": sum(r["errors"] for r in rs),
            "ok": sum(r["ok"] for r in rs),
            "cpu": med([r.get("cpu") for r in rs]),
            "peak_rss_mb": max((r.get("peak_rss_mb") or 0) for r in rs) or None,
            "mock_cpu": med([r.get("mock_cpu") for r in rs]),
        }
    return agg


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    load = "?"
    with contextlib.suppress(OSError), open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {
        "loadavg": load,
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "platform": platform.platform(),
    }


def render(res: dict[str, Any]) -> str:
    agg = aggregate(res["runs"])
    m = res["machine"]
    opts = res["options"]
    out = [
        "# Plexus benchmark results",
        "",
        f"Generated by `bench/run.py` ({'quick' if opts['quick'] else 'full'} run) on "
        f"{res['date']}, in {res['wall_s']:.0f} s.",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu']}, {m['memory']} RAM, Python {m['python']}, "
        f"Linux {m['kernel']}; load average {m.get('loadavg_start', '?')} at the start, "
        f"{m.get('loadavg', '?')} at the end (other work on the machine shows there). "
        "Everything (mock upstream, load generator, gateway) shares these cores, so absolute "
        "numbers are lower than on separate boxes; the ratios are "
        "measured in the same run.",
        "",
        f"Load: closed loop, keep-alive, concurrency {', '.join(map(str, opts['concurrency']))}; "
        f"warm-up {opts['warmup']} s excluded, window ≥ {opts['duration']} s (stretched until "
        f"≥ 30 answers); {opts['reps']} interleaved repetition(s), median shown "
        "(requests/s as median [min–max]). Upstream: instant mock (no latency), ~1 KB answers, "
        "streams of 50 (or 300) content events. Gateways with 1 worker unless named `×2`. "
        "`added` = p50 latency (or time to first event) minus the direct call's at the same "
        "concurrency. CPU in cores busy, RSS = peak of the whole process tree.",
        "",
    ]
    notes = res.get("notes", [])
    if notes:
        out += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]

    # Summary: targets
    out += render_targets(res, agg)

    out += ["## Per scenario", ""]
    for sc_key in res["scenario_keys"]:
        stream = "stream" in sc_key
        out.append(f"### {sc_key}")
        out.append("")
        if stream:
            out.append(
                "| contender | c | streams/s | events/s | p50 ms | p99 ms | TTFE p50 ms "
                "| TTFE added | errors | CPU | RSS MB |"
            )
            out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        else:
            out.append(
                "| contender | c | req/s | p50 ms | p99 ms | added p50 ms | errors | CPU | RSS MB |"
            )
            out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in opts["concurrency"]:
            base = agg.get((sc_key, "direct", c))
            for name in res["contender_order"]:
                a = agg.get((sc_key, name, c))
                if a is None:
                    continue
                rps = f"{fmt(a['rps'], 0)} [{fmt(a['rps_min'], 0)}–{fmt(a['rps_max'], 0)}]"
                if a["reps"] == 1:
                    rps = fmt(a["rps"], 0)
                cpu = fmt(a["cpu"], 2) if name != "direct" else f"(mock {fmt(a['mock_cpu'], 2)})"
                rss = fmt(a["peak_rss_mb"], 0)
                err = str(a["errors"])
                if stream:
                    added = (
                        fmt(a["ttfe_p50"] - base["ttfe_p50"], 2)
                        if base
                        and name != "direct"
                        and a["ttfe_p50"] is not None
                        and base["ttfe_p50"] is not None
                        else "–"
                    )
                    out.append(
                        f"| {name} | {c} | {rps} | {fmt(a['eps'], 0)} | {fmt(a['p50'], 2)} | "
                        f"{fmt(a['p99'], 2)} | {fmt(a['ttfe_p50'], 2)} | {added} | {err} | "
                        f"{cpu} | {rss} |"
                    )
                else:
                    added = (
                        fmt(a["p50"] - base["p50"], 2)
                        if base
                        and name != "direct"
                        and a["p50"] is not None
                        and base["p50"] is not None
                        else "–"
                    )
                    out.append(
                        f"| {name} | {c} | {rps} | {fmt(a['p50'], 2)} | {fmt(a['p99'], 2)} | "
                        f"{added} | {err} | {cpu} | {rss} |"
                    )
        out.append("")

    out += render_resources(res)
    return "\n".join(out) + "\n"


def render_targets(
    res: dict[str, Any], agg: dict[tuple[str, str, int], dict[str, Any]]
) -> list[str]:
    cmax = max(res["options"]["concurrency"])
    out = ["## Plexus against the others, same run", ""]
    if "plexus" not in res["contender_order"]:
        return [*out, "Plexus did not run (see notes), so no ratios.", ""]
    out += [
        f"Throughput at c={cmax} (requests/s; events/s for streams), 1 worker; added p50 at c=1 "
        "(TTFE for streams). Targets: translated throughput ≥ 70% of bare and ≥ 20× LiteLLM; "
        "added p50 ≤ 0.3 ms passthrough, ≤ 0.5 ms translated, p99 ≤ 2 ms; streams ≥ 70% of "
        "bare's events/s, ≥ 20× LiteLLM's, added TTFE ≤ 1 ms.",
        "",
        "| scenario | plexus | bare | direct | litellm (best c) | plexus/bare | plexus/direct "
        "| plexus/litellm | added p50 c=1 | added p99 c=1 | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for sc_key in res["scenario_keys"]:
        stream = "stream" in sc_key
        metric = "eps" if stream else "rps"

        def get(name: str, c: int, k: str, sc_key: str = sc_key) -> float | None:
            a = agg.get((sc_key, name, c))
            return None if a is None else a[k]

        px, bare, direct = (get(n, cmax, metric) for n in ("plexus", "bare", "direct"))
        # LiteLLM: its best throughput at any measured concurrency (at c=64 it may finish
        # nothing inside the window)
        lts = [a[metric] for (s, n, _), a in agg.items() if s == sc_key and n == "litellm"]
        lt = max((x for x in lts if x), default=None)
        lat = "ttfe_p50" if stream else "p50"
        lat99 = "ttfe_p99" if stream else "p99"
        px1, d1 = get("plexus", 1, lat), get("direct", 1, lat)
        px99, d99 = get("plexus", 1, lat99), get("direct", 1, lat99)
        added = None if px1 is None or d1 is None else px1 - d1
        added99 = None if px99 is None or d99 is None else px99 - d99
        errs = sum(
            a["errors"] for (s, n, _), a in agg.items() if s == sc_key and n.startswith("plexus")
        )
        r_b, r_d, r_l = ratio(px, bare), ratio(px, direct), ratio(px, lt)
        out.append(
            f"| {sc_key} | {fmt(px, 0)} | {fmt(bare, 0)} | {fmt(direct, 0)} | {fmt(lt, 0)} | "
            f"{pct(r_b)} | {pct(r_d)} | {times(r_l)} | {fmt(added, 2)} | {fmt(added99, 2)} "
            f"| {errs} |"
        )
    out.append("")
    return out


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def times(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}×"


def render_resources(res: dict[str, Any]) -> list[str]:
    out = ["## Start, idle memory", ""]
    out += [
        "| contender | workers | start s | idle RSS per worker MB | note |",
        "|---|---:|---:|---|---|",
    ]
    for c in res["contenders"]:
        out.append(
            f"| {c['name']} | {c['workers']} | {fmt(c['start_s'], 1)} | "
            f"{', '.join(fmt(x, 0) for x in c['idle_rss_mb']) or '–'} | {c['note'] or ''} |"
        )
    out.append("")
    soak = res.get("soak") or []
    if soak:
        out += ["## Memory soak", ""]
        for s in soak:
            r = s["result"]
            out.append(
                f"**{s['contender']}**: {s['total']:,} requests (mix: "
                f"{s['mix']}), concurrency {s['concurrency']}, {fmt(r['rps'], 0)} req/s, "
                f"{r['errors']} errors, {r['aborted']} streams aborted by the client. "
                f"RSS (MB) every {s['every']:,} requests: "
                + ", ".join(f"{fmt(x, 0)}" for x in s["rss_mb"])
                + f". Change from the first to the last sample: {pct(s['growth'])}."
            )
            out.append("")
    slow = res.get("slow") or []
    if slow:
        out += [
            "## Slow streams held open",
            "",
            "Each contender holds N concurrent streams whose upstream sends an event every "
            "20 ms; the gap between events seen by the client shows the delay a gateway adds.",
            "",
            "| contender | streams | ok | errors | event gap p50 ms | p99 ms | max ms "
            "| TTFE p50 ms | TTFE p99 ms | peak RSS MB | CPU |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in slow:
            r = s["result"]
            g, t = r["gap_ms"], r["ttfe_ms"]
            out.append(
                f"| {s['contender']} | {s['streams']} | {r['ok']} | {r['errors']} | "
                f"{fmt(g['p50'], 1)} | {fmt(g['p99'], 1)} | {fmt(g['max'], 1)} | "
                f"{fmt(t['p50'], 1)} | {fmt(t['p99'], 1)} | {fmt(s.get('peak_rss_mb'), 0)} | "
                f"{fmt(s.get('cpu'), 2)} |"
            )
        out.append("")
    errs = res.get("error_samples") or {}
    if errs:
        out += ["## Error samples", ""]
        for k, v in errs.items():
            out.append(f"- {k}: `{v[0][:300]}`" if v else f"- {k}")
        out.append("")
    return out


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Benchmark Plexus against direct, bare and LiteLLM")
    ap.add_argument("--quick", action="store_true", help="short run (~2 min)")
    ap.add_argument("--tiny", action="store_true", help="smoke run for tests (seconds)")
    ap.add_argument(
        "--scenarios",
        help="comma list of scenario keys or prefixes, e.g. 'chat>chat full,chat>messages'",
    )
    ap.add_argument("--contenders", help="comma list: direct,bare,plexus,litellm,litellm-rust")
    ap.add_argument("--duration", type=float, help="measuring window per point, seconds")
    ap.add_argument("--warmup", type=float, help="warm-up per point, seconds")
    ap.add_argument("--reps", type=int, help="repetitions of the whole sweep")
    ap.add_argument("--concurrency", help="comma list, e.g. 1,16,64")
    ap.add_argument(
        "--workers2",
        dest="workers2",
        action="store_true",
        default=None,
        help="also run the gateways with 2 workers at the highest concurrency",
    )
    ap.add_argument("--no-workers2", dest="workers2", action="store_false")
    ap.add_argument("--soak", type=int, help="requests in the memory soak (0: none)")
    ap.add_argument("--slow-streams", type=int, help="concurrent slow streams (0: none)")
    ap.add_argument("--out-dir", default=str(BENCH), help="where RESULTS.md and results.json go")
    ap.add_argument("--keep-logs", action="store_true", help="keep the temp dir with logs")
    ap.add_argument(
        "--render", metavar="JSON", help="only re-render RESULTS.md from a results.json"
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        md = render(json.loads(Path(args.render).read_text()))
        (Path(args.out_dir) / "RESULTS.md").write_text(md)
        print(md)
        return 0
    if args.tiny:
        dflt: dict[str, Any] = dict(
            duration=0.3,
            warmup=0.1,
            reps=1,
            conc=[1, 4],
            workers2=False,
            soak=300,
            slow=20,
            max_time=3.0,
            contenders="direct,bare",
        )
    elif args.quick:
        dflt = dict(
            duration=0.5,
            warmup=0.2,
            reps=1,
            conc=[1, 64],
            workers2=True,
            soak=10_000,
            slow=300,
            max_time=4.0,
            contenders="direct,bare,plexus,litellm",
        )
    else:
        dflt = dict(
            duration=0.8,
            warmup=0.25,
            reps=2,
            conc=[1, 16, 64],
            workers2=True,
            soak=100_000,
            slow=1000,
            max_time=7.0,
            contenders="direct,bare,plexus,litellm,litellm-rust",
        )
    duration = args.duration if args.duration is not None else dflt["duration"]
    warmup = args.warmup if args.warmup is not None else dflt["warmup"]
    reps = args.reps if args.reps is not None else dflt["reps"]
    conc = [int(x) for x in args.concurrency.split(",")] if args.concurrency else dflt["conc"]
    workers2 = args.workers2 if args.workers2 is not None else dflt["workers2"]
    soak_n = args.soak if args.soak is not None else dflt["soak"]
    slow_n = args.slow_streams if args.slow_streams is not None else dflt["slow"]
    wanted = [c.strip() for c in (args.contenders or dflt["contenders"]).split(",") if c.strip()]
    scenarios = ALL_SCENARIOS
    if args.scenarios:
        pats = [p.strip() for p in args.scenarios.split(",") if p.strip()]
        scenarios = [s for s in ALL_SCENARIOS if any(s.key.startswith(p) for p in pats)]
        if not scenarios:
            print(
                f"no scenario matches {args.scenarios!r}; known: "
                + ", ".join(s.key for s in ALL_SCENARIOS),
                file=sys.stderr,
            )
            return 2
    events = sorted({s.events for s in scenarios} | {50})
    cmax = max(conc)
    notes: list[str] = []
    t_wall = time.monotonic()
    load_start = machine()["loadavg"]
    tmp = Path(tempfile.mkdtemp(prefix="plexus-bench-"))
    progress = Progress(1)
    procs: list[Proc] = []
    mock: subprocess.Popen[bytes] | None = None
    lg: LoadGen | None = None
    try:
        mock, mport = start_mock(tmp)
        progress.say(f"mock upstream on :{mport}; logs in {tmp}")
        # Contenders ------------------------------------------------------------------------
        t0 = time.monotonic()
        worker_counts = [1, 2] if workers2 else [1]
        if "bare" in wanted:
            for w in worker_counts:
                port = free_port()
                cmd = [
                    PY,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(BENCH),
                    "bare_forwarder:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(w),
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ]
                env = {"BARE_UPSTREAM": f"http://127.0.0.1:{mport}/v1"}
                procs.append(
                    spawn("bare" if w == 1 else "bare×2", cmd, env, port, "/health", tmp, w)
                )
        if "plexus" in wanted:
            pcmd = plexus_cmd()
            if pcmd is None:
                notes.append("Plexus skipped: `plexus --help` does not offer `serve` yet.")
            else:
                cfg = tmp / "plexus.yaml"
                cfg.write_text(plexus_config(mport, events))
                for w in worker_counts:
                    port = free_port()
                    cmd = [
                        *pcmd,
                        "serve",
                        "--config",
                        str(cfg),
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--workers",
                        str(w),
                    ]
                    procs.append(
                        spawn("plexus" if w == 1 else "plexus×2", cmd, {}, port, "/health", tmp, w)
                    )
        lt_wanted = [c for c in wanted if c.startswith("litellm")]
        if lt_wanted:
            exe, why = ensure_litellm(tmp / "litellm-install.log", progress)
            if exe is None:
                notes.append(why)
            else:
                cfg = tmp / "litellm.yaml"
                cfg.write_text(litellm_config(mport, events))
                env = {
                    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                    "LITELLM_TELEMETRY": "False",
                    "LITELLM_LOG": "ERROR",
                    "LITELLM_MASTER_KEY": LITELLM_KEY,
                    "DISABLE_SCHEMA_UPDATE": "True",
                }
                for name in lt_wanted:
                    ws = worker_counts if name == "litellm" else [1]
                    for w in ws:
                        port = free_port()
                        cmd = [
                            str(exe),
                            "--config",
                            str(cfg),
                            "--host",
                            "127.0.0.1",
                            "--port",
                            str(port),
                            "--num_workers",
                            str(w),
                        ]
                        e = dict(env)
                        e["LITELLM_RUST"] = "true" if name == "litellm-rust" else "false"
                        procs.append(
                            spawn(
                                name if w == 1 else f"{name}×2",
                                cmd,
                                e,
                                port,
                                "/health/liveliness",
                                tmp,
                                w,
                            )
                        )
        progress.say("starting " + ", ".join(p.name for p in procs) + " ...")
        wait_healthy(procs, 120.0, t0)
        for p in procs:
            if p.start_s is None:
                notes.append(f"{p.name} did not start: {p.note}; log tail: " + tail_log(p.log))
        live = [p for p in procs if p.start_s is not None]
        time.sleep(1.0)
        for p in live:
            p.refresh_pids()
            p.idle_rss_mb = p.worker_rss_mb()
        progress.say("ready: " + ", ".join(f"{p.name} ({p.start_s} s)" for p in live))
        by_name = {p.name: p for p in live}
        order = (["direct"] if "direct" in wanted else []) + [p.name for p in live]

        # Points ----------------------------------------------------------------------------
        def contenders_at(c: int) -> list[str]:
            names = []
            for n in order:
                two = n.endswith("×2")
                if two and c != cmax:
                    continue
                if n.startswith("litellm") and len(conc) > 2 and c not in (min(conc), cmax):
                    continue  # LiteLLM is ~50× slower: its end points are enough
                names.append(n)
            return names

        plan = [
            (rep, sc, c, n)
            for rep in range(reps)
            for sc in scenarios
            for c in conc
            for n in contenders_at(c)
            if not (n.startswith("litellm") and rep > 0)  # one repetition for LiteLLM
        ]
        soak_order = ("plexus",) if "plexus" in by_name else ("bare",)
        soak_targets = [n for n in soak_order if n in by_name] if soak_n else []
        slow_targets = [n for n in ("direct", "bare", "plexus") if n in order] if slow_n else []
        progress.begin(len(plan) + len(soak_targets) + len(slow_targets))
        lg = LoadGen()
        runs: list[dict[str, Any]] = []
        error_samples: dict[str, list[str]] = {}
        for rep, sc, c, name in plan:
            proc = by_name.get(name)
            port = mport if name == "direct" else proc.port if proc else 0
            slow_one = name.startswith("litellm")
            job = {
                "host": "127.0.0.1",
                "port": port,
                "concurrency": c,
                "duration": duration,
                "warmup": warmup,
                "min_ok": 30,
                # LiteLLM answers in seconds at c=64: cap its points so the run stays short
                "max_time": dflt["max_time"] * (0.6 if slow_one else 1.0),
                "drain": 1.0 if slow_one else 2.0,
                "requests": [request_spec(sc, name)],
            }
            with sampling(proc, mock.pid) as res_usage:
                r = lg.run(job)
            r.update(res_usage)
            r.update({"scenario": sc.key, "contender": name, "concurrency": c, "rep": rep})
            runs.append(r)
            if r["error_samples"]:
                error_samples.setdefault(f"{name} {sc.key} c={c}", r["error_samples"])
            extra = (
                f"{r['events_per_s']:,.0f} ev/s ttfe {r['ttfe_ms']['p50']} ms" if sc.stream else ""
            )
            progress.step(
                f"{name:14s} {sc.key:28s} c={c:<3d} rep {rep + 1}: {r['rps']:9,.1f}/s "
                f"p50 {r['latency_ms']['p50']} ms {extra} err {r['errors']}"
            )

        # Memory soak -----------------------------------------------------------------------
        soak_res = []
        for name in soak_targets:
            soak_res.append(run_soak(lg, by_name[name], soak_n, progress))
        # Slow streams ----------------------------------------------------------------------
        slow_res = []
        for name in slow_targets:
            slow_res.append(
                run_slow(lg, name, by_name.get(name), mport, slow_n, mock.pid, progress)
            )

        # Logs: errors printed by gateways ----------------------------------------------------
        gw_errors: dict[str, dict[str, Any]] = {}
        for p in procs:
            text = p.log.read_text(errors="replace") if p.log.exists() else ""
            bad = [
                ln
                for ln in text.splitlines()
                if any(w in ln for w in ("Traceback", "ERROR", "Error", 'error"'))
            ]
            if bad:
                gw_errors[p.name] = {"lines": len(bad), "first": bad[:5]}
        res = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "wall_s": time.monotonic() - t_wall,
            "machine": {**machine(), "loadavg_start": load_start},
            "options": {
                "quick": bool(args.quick or args.tiny),
                "duration": duration,
                "warmup": warmup,
                "reps": reps,
                "concurrency": conc,
                "workers2": workers2,
                "litellm_version": LITELLM_VERSION,
            },
            "notes": notes,
            "scenario_keys": [s.key for s in scenarios],
            "contender_order": order,
            "contenders": [
                {
                    "name": p.name,
                    "workers": p.workers,
                    "start_s": p.start_s,
                    "idle_rss_mb": p.idle_rss_mb,
                    "note": p.note,
                }
                for p in procs
            ],
            "runs": runs,
            "soak": soak_res,
            "slow": slow_res,
            "error_samples": error_samples,
            "gateway_log_errors": gw_errors,
        }
        if gw_errors:
            for k, v in gw_errors.items():
                notes.append(
                    f"{k} logged {v['lines']} error line(s), first: `{v['first'][0][:200]}`"
                )
        out_dir = Path(args.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        md = render(res)
        (out_dir / "results.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))
        (out_dir / "RESULTS.md").write_text(md)
        print(md)
        print(f"wrote {out_dir / 'RESULTS.md'} and {out_dir / 'results.json'}", file=sys.stderr)
        return 0
    finally:
        if lg is not None:
            lg.close()
        for p in procs:
            p.stop()
        if mock is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(mock.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                mock.wait(timeout=5)
        if not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)


def tail_log(path: Path, n: int = 3) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " / ".join(line.strip()[:200] for line in lines[-n:])


SOAK_MIX = [
    (Scenario("chat", "chat", False), False),
    (Scenario("chat", "messages", False), False),
    (Scenario("chat", "chat", True), False),
    (Scenario("messages", "chat", True), True),  # aborted by the client after its first event
    (Scenario("responses", "messages", False), False),
    (Scenario("chat", "gemini", True), False),
    (Scenario("chat", "messages", True), True),
    (Scenario("messages", "chat", False), False),
    (Scenario("chat", "chat", False), False),
    (Scenario("responses", "messages", True), False),
]


def run_soak(lg: LoadGen, proc: Proc, total: int, progress: Progress) -> dict[str, Any]:
    every = max(1, total // 10)
    proc.refresh_pids()
    rss = []
    progress.say(f"soak: {proc.name}, {total:,} mixed requests ...")

    def on_progress(n: int) -> None:
        rss.append(round(proc.rss_mb(), 1))
        progress.say(f"  soak {proc.name}: {n:,} requests, RSS {rss[-1]} MB")

    job = {
        "host": "127.0.0.1",
        "port": proc.port,
        "concurrency": 32,
        "total": total,
        "progress_every": every,
        "max_time": 400.0,
        "requests": [request_spec(sc, proc.name, abort) for sc, abort in SOAK_MIX],
    }
    r = lg.run(job, on_progress)
    growth = (rss[-1] - rss[0]) / rss[0] if len(rss) >= 2 and rss[0] else None
    progress.step(f"soak {proc.name}: {r['rps']:,.0f} req/s, {r['errors']} errors, RSS {rss}")
    mix = ", ".join(f"{sc.key}{' (aborted)' if ab else ''}" for sc, ab in SOAK_MIX)
    return {
        "contender": proc.name,
        "total": total,
        "every": every,
        "concurrency": 32,
        "mix": mix,
        "rss_mb": rss,
        "growth": growth,
        "result": r,
    }


def run_slow(
    lg: LoadGen,
    name: str,
    proc: Proc | None,
    mport: int,
    n: int,
    mock_pid: int,
    progress: Progress,
) -> dict[str, Any]:
    sc = Scenario("chat", "chat", True, 100)
    spec = request_spec(sc, name)
    body = json.loads(spec["body"])
    body["model"] = (
        "m-e100-d20"
        if name == "direct"
        else ("bench-chat-slow" if name.startswith("plexus") else "bench-chat-e100-d20")
    )
    spec["body"] = json.dumps(body)
    job = {
        "host": "127.0.0.1",
        "port": mport if proc is None else proc.port,
        "concurrency": n,
        "per_conn": 1,
        "gaps": True,
        "max_time": 60.0,
        "requests": [spec],
    }
    with sampling(proc, mock_pid) as usage:
        r = lg.run(job)
    progress.step(
        f"slow streams {name}: {r['ok']}/{n} ok, {r['errors']} errors, gap p50 "
        f"{r['gap_ms']['p50']} p99 {r['gap_ms']['p99']} ms"
    )
    return {"contender": name, "streams": n, "result": r, **usage}


if __name__ == "__main__":
    sys.exit(main())
