"""Would a Rust-backed HTTP client (pyreqwest) or server (granian) be worth the dependency?

``python bench/stack_probe.py`` (a few minutes): installs the pinned candidates into
``bench/.venv-probe`` (once), then measures the bare forwarder four ways against the benchmark's
mock upstream, interleaved and repeated: uvicorn or granian as the server, aiohttp or pyreqwest
as the upstream client. Last, it checks what a gateway needs beyond speed: that cancelling the
task awaiting an upstream answer makes the upstream see the connection close (a client that
went away must stop the generation it was paying for).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contenders import bare_cmd
from processes import BENCH, Proc, free_port, spawn, start_mock, stop_mock, wait_healthy
from scenarios import request_spec, select_scenarios

VENV = BENCH / ".venv-probe"
PY = str(VENV / "bin" / "python")
PINS = [
    "pyreqwest==0.15.1",
    "granian==2.8.9",
    "uvicorn==0.54.0",
    "uvloop==0.23.0",
    "httptools==0.9.0",
    "aiohttp==3.14.5",
    "msgspec==0.22.0",
]
VARIANTS = {  # name: (server, app module)
    "uvicorn+aiohttp": ("uvicorn", "bare_forwarder"),
    "uvicorn+pyreqwest": ("uvicorn", "bare_pyreqwest"),
    "granian+aiohttp": ("granian", "bare_forwarder"),
    "granian+pyreqwest": ("granian", "bare_pyreqwest"),
}
CANCEL_CHECK = """
import asyncio
from pyreqwest.client import ClientBuilder

async def main():
    closed = asyncio.Event()
    class Silent(asyncio.Protocol):
        def connection_lost(self, exc): closed.set()
    server = await asyncio.get_running_loop().create_server(Silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = ClientBuilder().build()
    task = asyncio.ensure_future(client.post(f"http://127.0.0.1:{port}/").build().send())
    await asyncio.sleep(0.2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await client.close()
    try:
        await asyncio.wait_for(closed.wait(), 3)
        print("closed")
    except TimeoutError:
        print("still open after 3 s")

asyncio.run(main())
"""


def ensure_venv() -> None:
    marker = VENV / ".installed"
    if marker.exists() and marker.read_text() == "\n".join(PINS):
        return
    print(f"installing {', '.join(PINS)} into {VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([PY, "-m", "pip", "install", "-q", *PINS], check=True)
    marker.write_text("\n".join(PINS))


def command(server: str, module: str, port: int) -> list[str]:
    if server == "uvicorn":
        return bare_cmd(port, 1, module, PY)
    return [
        str(VENV / "bin" / "granian"),
        "--interface",
        "asgi",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--no-ws",
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--working-dir",
        str(BENCH),
        f"{module}:app",
    ]


def main() -> None:
    ensure_venv()
    tmp = Path(tempfile.mkdtemp(prefix="plexus-probe-"))
    mock, mport = start_mock(tmp)
    env = {"BARE_UPSTREAM": f"http://127.0.0.1:{mport}/v1", "PYTHONPATH": str(BENCH)}
    procs = {}
    for name, (server, module) in VARIANTS.items():
        port = free_port()
        procs[name] = spawn(
            name.replace("+", "-"), command(server, module, port), env, port, "/health", tmp
        )
    try:
        wait_healthy(list(procs.values()), 60, time.monotonic())
        print("| variant | scenario | c | req/s | events/s | p50 ms | p99 ms | CPU cores |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for key in ("chat>chat full", "chat>chat stream50"):
            scenario = select_scenarios(key)[0]
            for concurrency in (1, 64):
                for _rep in range(2):
                    for name, proc in procs.items():
                        measure(name, proc, key, concurrency, request_spec(scenario, "bare"))
        check = subprocess.run([PY, "-c", CANCEL_CHECK], capture_output=True, text=True)
        print(
            f"\npyreqwest, upstream connection after the awaiting task was cancelled: "
            f"{check.stdout.strip() or check.stderr.strip()[-300:]}"
        )
    finally:
        for proc in procs.values():
            proc.stop()
        stop_mock(mock)


def measure(name: str, proc: Proc, key: str, concurrency: int, spec: dict[str, object]) -> None:
    port = proc.port
    proc.refresh_pids()
    cpu0, t0 = proc.cpu(), time.monotonic()
    job = {
        "host": "127.0.0.1",
        "port": port,
        "requests": [spec],
        "concurrency": concurrency,
        "duration": 4.0,
        "warmup": 1.0,
    }
    out = subprocess.run(
        [PY, str(BENCH / "loadgen.py"), "once", "--job", json.dumps(job)],
        capture_output=True,
        text=True,
        check=False,
    )
    cpu = (proc.cpu() - cpu0) / (time.monotonic() - t0)
    try:
        r = json.loads(out.stdout)
        lat = r["latency_ms"]
        print(
            f"| {name} | {key} | {concurrency} | {r['rps']:,.0f} | {r['events_per_s']:,.0f} | "
            f"{lat['p50']:.2f} | {lat['p99']:.2f} | {cpu:.2f} |",
            flush=True,
        )
    except (ValueError, KeyError, TypeError):
        print(f"| {name} | {key} | {concurrency} | failed: {out.stderr.strip()[-200:]} |")


if __name__ == "__main__":
    main()
