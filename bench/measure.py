"""The measurements, each one job for the load generator: the interleaved sweep of points
(scenario × concurrency × contender), the memory soak, the slow streams held open and the many
slow streams held open at once on one worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from processes import LoadGen, Proc, cpu_s, listen_overflows, sampling
from progress import Progress
from scenarios import SOAK_MIX, Scenario, SlowMany, request_spec, serves

Point = tuple[int, Scenario, int, str]  # repetition, scenario, concurrency, contender


@dataclass(frozen=True)
class Timing:
    duration: float  # measuring window per point, seconds
    warmup: float  # warm-up per point, seconds
    max_time: float  # cap on one point, seconds


# ---------------------------------------------------------------------------------------------
# The sweep


def contenders_at(order: list[str], conc: list[int], c: int) -> list[str]:
    """The contenders that run a point at concurrency ``c``."""
    cmax = max(conc)
    names = []
    for n in order:
        two = n.endswith("×2")
        if (two or n.startswith("plexus-")) and c != cmax:
            continue
        if n.startswith("litellm") and len(conc) > 2 and c not in (min(conc), cmax):
            continue  # LiteLLM is ~50× slower: its end points are enough
        names.append(n)
    return names


def plan_points(
    order: list[str], scenarios: list[Scenario], conc: list[int], reps: int
) -> list[Point]:
    """Every point, interleaved: all contenders run a point before the next one starts.

    A contender that cannot serve a scenario (Portkey beyond Chat Completions clients) has no
    point there, and shows as a dash in the report.
    """
    return [
        (rep, sc, c, n)
        for rep in range(reps)
        for sc in scenarios
        for c in conc
        for n in contenders_at(order, conc, c)
        if not (n.startswith("litellm") and rep > 0)  # one repetition for LiteLLM
        and serves(n, sc)
    ]


def run_point(
    lg: LoadGen, point: Point, proc: Proc | None, mport: int, mock_pid: int, timing: Timing
) -> dict[str, Any]:
    rep, sc, c, name = point
    port = mport if name == "direct" else proc.port if proc else 0
    slow_one = name.startswith("litellm")
    job = {
        "host": "127.0.0.1",
        "port": port,
        "concurrency": c,
        "duration": timing.duration,
        "warmup": timing.warmup,
        "min_ok": 30,
        # LiteLLM answers in seconds at c=64: cap its points so the run stays short
        "max_time": timing.max_time * (0.6 if slow_one else 1.0),
        "drain": 1.0 if slow_one else 2.0,
        "requests": [request_spec(sc, name, upstream=f"http://127.0.0.1:{mport}")],
    }
    with sampling(proc, mock_pid) as res_usage:
        r = lg.run(job)
    r.update(res_usage)
    r.update({"scenario": sc.key, "contender": name, "concurrency": c, "rep": rep})
    return r


def point_summary(point: Point, r: dict[str, Any]) -> str:
    rep, sc, c, name = point
    extra = f"{r['events_per_s']:,.0f} ev/s ttfe {r['ttfe_ms']['p50']} ms" if sc.stream else ""
    return (
        f"{name:14s} {sc.key:28s} c={c:<3d} rep {rep + 1}: {r['rps']:9,.1f}/s "
        f"p50 {r['latency_ms']['p50']} ms {extra} err {r['errors']}"
    )


def run_sweep(
    lg: LoadGen,
    plan: list[Point],
    by_name: dict[str, Proc],
    mport: int,
    mock_pid: int,
    timing: Timing,
    progress: Progress,
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Every point of the plan; returns the runs and the first error samples per point."""
    runs: list[dict[str, Any]] = []
    error_samples: dict[str, list[str]] = {}
    for point in plan:
        _, sc, c, name = point
        r = run_point(lg, point, by_name.get(name), mport, mock_pid, timing)
        runs.append(r)
        if r["error_samples"]:
            error_samples.setdefault(f"{name} {sc.key} c={c}", r["error_samples"])
        progress.step(point_summary(point, r))
    return runs, error_samples


# ---------------------------------------------------------------------------------------------
# Memory soak and slow streams


def soak_targets(by_name: dict[str, Proc], soak_n: int) -> list[str]:
    soak_order = ("plexus",) if "plexus" in by_name else ("bare",)
    return [n for n in soak_order if n in by_name] if soak_n else []


def slow_targets(order: list[str], slow_n: int) -> list[str]:
    return [n for n in ("direct", "bare", "plexus") if n in order] if slow_n else []


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


def slow_spec(name: str) -> dict[str, Any]:
    """A 100-event chat stream whose upstream sends one event every 20 ms."""
    sc = Scenario("chat", "chat", True, 100)
    spec = request_spec(sc, name)
    body = json.loads(spec["body"])
    body["model"] = (
        "m-e100-d20"
        if name == "direct"
        else ("bench-chat-slow" if name.startswith("plexus") else "bench-chat-e100-d20")
    )
    spec["body"] = json.dumps(body)
    return spec


def run_slow(
    lg: LoadGen,
    name: str,
    proc: Proc | None,
    mport: int,
    n: int,
    mock_pid: int,
    progress: Progress,
) -> dict[str, Any]:
    job = {
        "host": "127.0.0.1",
        "port": mport if proc is None else proc.port,
        "concurrency": n,
        "per_conn": 1,
        "gaps": True,
        "max_time": 60.0,
        "requests": [slow_spec(name)],
    }
    with sampling(proc, mock_pid) as usage:
        r = lg.run(job)
    progress.step(
        f"slow streams {name}: {r['ok']}/{n} ok, {r['errors']} errors, gap p50 "
        f"{r['gap_ms']['p50']} p99 {r['gap_ms']['p99']} ms"
    )
    return {"contender": name, "streams": n, "result": r, **usage}


# ---------------------------------------------------------------------------------------------
# Many slow streams at once on one worker

# The load generator opens the connections this many at a time, one batch every OPEN_EVERY s
# (2,000 a second), and no more than OPEN_WINDOW new ones may wait for their answer's head: all
# at once, 8,000 connects overflow uvicorn's listen backlog (2048) while the gateway is busy
# starting the streams already in, and the kernel retries the dropped ones a second or more
# later (TTFE p99 of 12 s, seen when other work on the machine slowed Plexus down). The window
# keeps fewer connects than the backlog in flight, however slow the gateway; on an idle 2-core
# box the pace alone opens the last stream (4 s) long before the first ends (~20 s).
OPEN_BATCH = 200
OPEN_EVERY = 0.1
OPEN_WINDOW = 1000


def slow_many_targets(order: list[str], n: int) -> list[str]:
    """The direct call (the reference) and Plexus with one worker: no other gateway."""
    return [c for c in ("direct", "plexus") if c in order] if n else []


def slow_many_spec(name: str, shape: SlowMany) -> dict[str, Any]:
    """A Chat Completions stream of ``shape.events`` events, ``shape.delay_ms`` apart."""
    sc = Scenario("chat", "chat", True, shape.events)
    spec = request_spec(sc, name)
    body = json.loads(spec["body"])
    body["model"] = shape.upstream_model if name == "direct" else shape.alias
    spec["body"] = json.dumps(body)
    return spec


def run_slow_many(
    lg: LoadGen,
    name: str,
    proc: Proc | None,
    mport: int,
    shape: SlowMany,
    mock_pid: int,
    progress: Progress,
) -> dict[str, Any]:
    """``shape.n`` streams opened in batches, held while the mock sends their events, let end.

    Measured: streams that ended well, errors, how many were open at once at the peak (by the
    load generator: first event in, last byte not yet), the gaps between events, the gateway's
    peak RSS and open sockets, CPU of gateway, mock and load generator, and the listen
    backlog overflows of the machine meanwhile (0 means no connect was dropped)."""
    ramp_s = (shape.n - 1) // OPEN_BATCH * OPEN_EVERY
    job = {
        "host": "127.0.0.1",
        "port": mport if proc is None else proc.port,
        "concurrency": shape.n,
        "per_conn": 1,
        "gaps": True,
        "open_batch": OPEN_BATCH,
        "open_every": OPEN_EVERY,
        "open_window": OPEN_WINDOW,
        # the ramp, the streams' own length, and room for a slow gateway
        "max_time": ramp_s + shape.events * shape.delay_ms / 1000 + 60.0,
        "requests": [slow_many_spec(name, shape)],
    }
    progress.say(
        f"{shape.n:,} slow streams on {name}: {shape.events} events {shape.delay_ms} ms apart, "
        f"opened {OPEN_BATCH} every {OPEN_EVERY * 1000:.0f} ms, at most {OPEN_WINDOW} waiting ..."
    )
    overflows0, lg0 = listen_overflows(), cpu_s(lg.p.pid)
    with sampling(proc, mock_pid, fds=True) as usage:
        r = lg.run(job)
    overflows1 = listen_overflows()
    lg_cpu = round((cpu_s(lg.p.pid) - lg0) / max(r["wall_s"], 1e-9), 2)
    progress.step(
        f"{shape.n:,} slow streams {name}: {r['ok']}/{shape.n} ok, {r['errors']} errors, "
        f"{r['open_peak']:,} open at once, gap p50 {r['gap_ms']['p50']} p99 "
        f"{r['gap_ms']['p99']} max {r['gap_ms']['max']} ms, peak RSS "
        f"{usage.get('peak_rss_mb', '–')} MB, {r['wall_s']:.1f} s"
    )
    return {
        "contender": name,
        "streams": shape.n,
        "events": shape.events,
        "delay_ms": shape.delay_ms,
        "open_batch": OPEN_BATCH,
        "open_every_s": OPEN_EVERY,
        "open_window": OPEN_WINDOW,
        "listen_overflows": None
        if overflows0 is None or overflows1 is None
        else overflows1 - overflows0,
        "loadgen_cpu": lg_cpu,
        "result": r,
        **usage,
    }
