"""Plexus benchmark: Plexus against the direct call, a bare forwarder, LiteLLM and Portkey, in
one run.

``make bench`` (full, ~10 minutes on 2 cores) or ``make bench-quick``; see ``bench/README.md``.

Processes: one mock upstream (``mock_upstream.py``), one load generator (``loadgen.py``, fed jobs
over stdin), and the contenders, all pointed at the same mock and started before any measurement:

- ``direct``      the load generator calls the mock in the provider's own protocol (physical limit)
- ``bare``        ``bare_forwarder.py``: uvicorn + raw ASGI + aiohttp + msgspec, no translation
                  (it forwards the client protocol to the same protocol: the practical limit)
- ``plexus``      ``plexus serve`` (skipped with a note when it does not start)
- ``litellm``     LiteLLM proxy (pinned, own virtualenv, no database), and ``litellm-rust`` with
                  ``LITELLM_RUST=true`` (its Rust paths); skipped with a note if it can't be
                  installed
- ``portkey``     Portkey's open-source gateway (pinned npm package, run with ``node``, one
                  process), told provider and upstream in headers of each request; only where
                  it passes the checks (``scenarios.portkey_gap``, and the notes, say why not);
                  skipped with a note if it can't be installed

Gateways run with 1 worker at every concurrency and with 2 workers (``name×2``) at the highest
(Portkey has no multi-process mode: 1 process only).
Points are interleaved (every contender runs a point before the next point starts) and the whole
sweep is repeated ``--reps`` times so that noise shows. Results: ``bench/RESULTS.md`` (committed;
or ``--out-dir``), the raw numbers in ``bench/out/results.json`` (gitignored; or
``--results-json``), and the table on the terminal.

This file holds the command line and the orchestration. Its siblings (imported from ``bench/``,
which Python puts first on ``sys.path`` when it runs ``bench/run.py``): ``scenarios.py`` (what is
sent), ``processes.py`` (child processes, CPU and RSS), ``contenders.py`` (the gateways),
``measure.py`` (sweep, soak, slow streams, many slow streams), ``report.py`` (RESULTS.md),
``progress.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import attribution
from contenders import (
    LITELLM_VERSION,
    PLEXUS_VARIANTS,
    PORTKEY_NODE_SERVER,
    PORTKEY_VERSION,
    gateway_log_errors,
    start_contenders,
    wait_ready,
)
from measure import (
    Point,
    Timing,
    plan_points,
    point_summary,
    run_point,
    run_slow,
    run_slow_many,
    run_soak,
    run_sweep,
    slow_many_targets,
    slow_targets,
    soak_targets,
)
from processes import BENCH, LoadGen, Proc, machine, start_mock, stop_mock
from progress import Progress
from report import render
from scenarios import ALL_SCENARIOS, Scenario, SlowMany, portkey_gap, select_scenarios

RESULTS_JSON = BENCH / "out" / "results.json"  # raw numbers, gitignored
# What the platform features cost is measured apart, in longer windows than the sweep's: the
# differences sought are a few percent, the sweep's short points vary more than that.
PLATFORM_SCENARIOS = ("chat>chat full", "chat>messages full", "messages>chat full")
ATTRIBUTION_WINDOW = 3.0  # seconds of each profiled point

# Defaults of --tiny, --quick and the full run; the command line overrides each of them.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "duration": 0.3,
        "warmup": 0.1,
        "reps": 1,
        "conc": [1, 4],
        "workers2": False,
        "soak": 300,
        "slow": 20,
        "slow_many": 0,
        "slow_many_shape": (3, 100),  # events, ms apart: short, for tests that ask for it
        "max_time": 3.0,
        "platform_reps": 0,  # repetitions of the platform-cost points
        "platform_window": 0.0,  # their measuring window, seconds
        "contenders": "direct,bare",
    },
    "quick": {
        "duration": 0.5,
        "warmup": 0.2,
        "reps": 1,
        "conc": [1, 64],
        "workers2": True,
        "soak": 10_000,
        "slow": 300,
        "slow_many": 0,
        "slow_many_shape": (20, 1000),
        "max_time": 4.0,
        "platform_reps": 3,
        "platform_window": 1.0,
        "contenders": "direct,bare,plexus,plexus-lean,plexus-untraced,plexus-limits,plexus-redis,"
        "litellm,portkey",
    },
    "full": {
        # Sized so the whole run, LiteLLM's start-ups included, takes ~10 min on 2 cores.
        "duration": 0.6,
        "warmup": 0.2,
        "reps": 2,
        "conc": [1, 16, 64],
        "workers2": True,
        "soak": 100_000,
        "slow": 1000,
        # 8,000 streams of 20 events, one a second (8,000 events/s in all: what 2 cores carry
        # for mock, gateway and load generator at once), each ~20 s long: all are open at once
        # even when other work on the machine slows the gateway's opening down to ~11 s.
        "slow_many": 8000,
        "slow_many_shape": (20, 1000),
        "max_time": 7.0,
        "platform_reps": 6,
        "platform_window": 1.5,
        "contenders": "direct,bare,plexus,plexus-lean,plexus-untraced,plexus-limits,plexus-redis,"
        "litellm,litellm-rust,portkey",
    },
}


@dataclass
class Options:
    quick: bool
    timing: Timing
    reps: int
    conc: list[int]
    workers2: bool
    soak_n: int
    slow_n: int
    slow_many: SlowMany
    platform_reps: int
    platform_window: float
    wanted: list[str]
    scenarios: list[Scenario]
    out_dir: Path
    results_json: Path
    keep_logs: bool


@dataclass
class Running:
    """What the run has started, so that it can all be stopped, even after a failure."""

    tmp: Path
    procs: list[Proc] = field(default_factory=list)
    mock: subprocess.Popen[bytes] | None = None
    lg: LoadGen | None = None

    def close(self, keep_logs: bool) -> None:
        if self.lg is not None:
            self.lg.close()
        for p in self.procs:
            p.stop()
        if self.mock is not None:
            stop_mock(self.mock)
        if not keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Benchmark Plexus against direct, bare, LiteLLM and Portkey"
    )
    ap.add_argument("--quick", action="store_true", help="short run (~4 min)")
    ap.add_argument("--tiny", action="store_true", help="smoke run for tests (seconds)")
    ap.add_argument(
        "--scenarios",
        help="comma list of scenario keys or prefixes, e.g. 'chat>chat full,chat>messages'",
    )
    ap.add_argument(
        "--contenders",
        help="comma list: direct,bare,plexus,plexus-lean,plexus-untraced,plexus-limits,"
        "plexus-redis,litellm,litellm-rust,portkey",
    )
    ap.add_argument(
        "--platform-reps",
        type=int,
        help="repetitions of the platform-cost points (plexus and its variants; 0: none)",
    )
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
    ap.add_argument(
        "--slow-many",
        type=int,
        help="slow streams held open at once on one worker, direct and plexus (0: none)",
    )
    ap.add_argument("--out-dir", default=str(BENCH), help="where RESULTS.md goes")
    ap.add_argument(
        "--results-json",
        default=str(RESULTS_JSON),
        help="where the raw numbers go (default bench/out/results.json, not committed)",
    )
    ap.add_argument("--keep-logs", action="store_true", help="keep the temp dir with logs")
    ap.add_argument(
        "--render", metavar="JSON", help="only re-render RESULTS.md from a results.json"
    )
    return ap.parse_args(argv)


def resolve_options(args: argparse.Namespace, scenarios: list[Scenario]) -> Options:
    """The preset's defaults, overridden by whatever the command line sets."""
    dflt = PRESETS["tiny" if args.tiny else "quick" if args.quick else "full"]

    def pick(value: Any, key: str) -> Any:
        return value if value is not None else dflt[key]

    conc = [int(x) for x in args.concurrency.split(",")] if args.concurrency else dflt["conc"]
    wanted = [c.strip() for c in (args.contenders or dflt["contenders"]).split(",") if c.strip()]
    timing = Timing(pick(args.duration, "duration"), pick(args.warmup, "warmup"), dflt["max_time"])
    slow_many = SlowMany(pick(args.slow_many, "slow_many"), *dflt["slow_many_shape"])
    return Options(
        quick=bool(args.quick or args.tiny),
        timing=timing,
        reps=pick(args.reps, "reps"),
        conc=conc,
        workers2=pick(args.workers2, "workers2"),
        soak_n=pick(args.soak, "soak"),
        slow_n=pick(args.slow_streams, "slow"),
        slow_many=slow_many,
        platform_reps=pick(args.platform_reps, "platform_reps"),
        platform_window=dflt["platform_window"],
        wanted=wanted,
        scenarios=scenarios,
        out_dir=Path(args.out_dir),
        results_json=Path(args.results_json),
        keep_logs=args.keep_logs,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        md = render(json.loads(Path(args.render).read_text()))
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.out_dir) / "RESULTS.md").write_text(md)
        print(md)
        return 0
    scenarios = select_scenarios(args.scenarios)
    if not scenarios:
        print(
            f"no scenario matches {args.scenarios!r}; known: "
            + ", ".join(s.key for s in ALL_SCENARIOS),
            file=sys.stderr,
        )
        return 2
    return run_bench(resolve_options(args, scenarios))


# ---------------------------------------------------------------------------------------------
# Orchestration


def run_bench(opts: Options) -> int:
    t_wall = time.monotonic()
    load_start = machine()["loadavg"]
    running = Running(Path(tempfile.mkdtemp(prefix="plexus-bench-")))
    try:
        res = bench(opts, running, t_wall, load_start)
        write_results(opts.out_dir, opts.results_json, res)
        return 0
    finally:
        running.close(opts.keep_logs)


def start_gateways(
    opts: Options, running: Running, mport: int, notes: list[str], progress: Progress
) -> list[Proc]:
    """Start the wanted gateways and wait for them; returns the ones that came up."""
    t0 = time.monotonic()
    worker_counts = [1, 2] if opts.workers2 else [1]
    events = sorted({s.events for s in opts.scenarios} | {50})
    args = (opts.wanted, worker_counts, mport, events, running.tmp, notes, progress)
    start_contenders(running.procs, *args, slow_many=opts.slow_many)
    return wait_ready(running.procs, t0, notes, progress)


def bench(opts: Options, running: Running, t_wall: float, load_start: str) -> dict[str, Any]:
    """Start everything, measure every point, the soak and the slow streams (few and many);
    the results."""
    progress = Progress(1)
    notes: list[str] = []
    mock, mport = start_mock(running.tmp)
    running.mock = mock
    progress.say(f"mock upstream on :{mport}; logs in {running.tmp}")
    live = start_gateways(opts, running, mport, notes, progress)
    by_name = {p.name: p for p in live}
    if "portkey" in by_name:
        notes.extend(portkey_scenario_notes(opts.scenarios))
    order = (["direct"] if "direct" in opts.wanted else []) + [p.name for p in live]
    plan = plan_points(order, opts.scenarios, opts.conc, opts.reps)
    soaks, slows = soak_targets(by_name, opts.soak_n), slow_targets(order, opts.slow_n)
    manys = slow_many_targets(order, opts.slow_many.n)
    if manys:
        notes.append(slow_many_note(opts.slow_many.n))
    platform_plan = plan_platform(opts, order)
    attributed = plan_attribution(opts, order)
    steps = len(plan) + len(platform_plan) + len(attributed) + len(soaks) + len(slows)
    progress.begin(steps + len(manys))
    running.lg = lg = LoadGen()
    runs, error_samples = run_sweep(lg, plan, by_name, mport, mock.pid, opts.timing, progress)
    window = Timing(opts.platform_window, opts.timing.warmup, opts.platform_window + 3.0)
    platform, _ = run_sweep(lg, platform_plan, by_name, mport, mock.pid, window, progress)
    shares = [run_attributed(lg, p, by_name[p[3]], mport, mock.pid, progress) for p in attributed]
    soak_res = [run_soak(lg, by_name[n], opts.soak_n, progress) for n in soaks]
    slow_res = [
        run_slow(lg, n, by_name.get(n), mport, opts.slow_n, mock.pid, progress) for n in slows
    ]
    many_res = [
        run_slow_many(lg, n, by_name.get(n), mport, opts.slow_many, mock.pid, progress)
        for n in manys
    ]
    gw_errors = gateway_log_errors(running.procs)
    measured = {
        "runs": runs,
        "platform": platform,
        "attribution": shares,
        "soak": soak_res,
        "slow": slow_res,
        "slow_many": many_res,
        "error_samples": error_samples,
        "gateway_log_errors": gw_errors,
    }
    res = results(opts, t_wall, load_start, notes, order, running.procs, measured)
    for k, v in gw_errors.items():
        notes.append(f"{k} logged {v['lines']} error line(s), first: `{v['first'][0][:200]}`")
    return res


def plan_platform(opts: Options, order: list[str]) -> list[Point]:
    """The platform-cost points: `plexus` and its variants on a few scenarios at the highest
    concurrency, interleaved; none unless `plexus-lean` runs."""
    if "plexus-lean" not in order or not opts.platform_reps:
        return []
    names = [n for n in ("plexus", *(f"plexus-{v}" for v in PLEXUS_VARIANTS)) if n in order]
    scenarios = [s for s in opts.scenarios if s.key in PLATFORM_SCENARIOS]
    return plan_points(names, scenarios, [max(opts.conc)], opts.platform_reps)


def plan_attribution(opts: Options, order: list[str]) -> list[Point]:
    """One profiled point per platform scenario for `plexus` (and the limits variants), when
    the platform-cost points run and py-spy is there."""
    if not plan_platform(opts, order) or attribution.py_spy() is None:
        return []
    names = [n for n in ("plexus", "plexus-limits", "plexus-redis") if n in order]
    scenarios = [s for s in opts.scenarios if s.key in PLATFORM_SCENARIOS]
    return [(0, sc, max(opts.conc), n) for sc in scenarios for n in names]


def run_attributed(
    lg: LoadGen, point: Point, proc: Proc, mport: int, mock_pid: int, progress: Progress
) -> dict[str, Any]:
    """A point of 3 s with the gateway's GIL time sampled; the shares of its features."""
    timing = Timing(ATTRIBUTION_WINDOW, 0.3, ATTRIBUTION_WINDOW + 5.0)
    assert proc.popen is not None
    recording = attribution.record(proc.popen.pid, ATTRIBUTION_WINDOW)
    r = run_point(lg, point, proc, mport, mock_pid, timing)
    found = attribution.finish(recording) or {}
    progress.step(point_summary(point, r) + " (profiled)")
    return {"scenario": point[1].key, "contender": point[3], "rps": r["rps"], **found}


def slow_many_note(n: int) -> str:
    """Who takes part in the many slow streams, and why the others do not."""
    return (
        f"{n:,} slow streams at once: only `plexus` (1 worker) and `direct`, the reference. "
        "LiteLLM and Portkey could not hold this many in a run of this length (LiteLLM serves "
        "~10 streams/s on one worker, so opening thousands would alone take minutes; Portkey "
        "was not tried at this size); `bare` is left out to keep the run short."
    )


def portkey_scenario_notes(scenarios: list[Scenario]) -> list[str]:
    """Why Portkey has dashes: one note per reason, with the scenarios it covers."""
    by_reason: dict[str, list[str]] = {}
    for s in scenarios:
        why = portkey_gap(s)
        if why is not None:
            by_reason.setdefault(why, []).append(s.key)
    return [
        f"Portkey {PORTKEY_VERSION} does not run {', '.join(keys)} (`–` in its columns): {why}."
        for why, keys in by_reason.items()
    ]


def results(
    opts: Options,
    t_wall: float,
    load_start: str,
    notes: list[str],
    order: list[str],
    procs: list[Proc],
    measured: dict[str, Any],
) -> dict[str, Any]:
    """The results.json document (``notes`` is shared: later notes still show in it)."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "wall_s": time.monotonic() - t_wall,
        "machine": {**machine(), "loadavg_start": load_start},
        "options": {
            "quick": opts.quick,
            "duration": opts.timing.duration,
            "warmup": opts.timing.warmup,
            "reps": opts.reps,
            "concurrency": opts.conc,
            "workers2": opts.workers2,
            "slow_many": opts.slow_many.n,
            "platform_reps": opts.platform_reps,
            "platform_window": opts.platform_window,
            "litellm_version": LITELLM_VERSION,
            "portkey_version": PORTKEY_VERSION,
            "portkey_node_server": PORTKEY_NODE_SERVER,
        },
        "notes": notes,
        "scenario_keys": [s.key for s in opts.scenarios],
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
        **measured,
    }


def write_results(out_dir: Path, results_json: Path, res: dict[str, Any]) -> None:
    md = render(res)
    results_json.parent.mkdir(parents=True, exist_ok=True)
    results_json.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "RESULTS.md").write_text(md)
    print(md)
    print(f"wrote {out_dir / 'RESULTS.md'} and {results_json}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
