"""Child processes of the benchmark and what they use: the mock upstream, the load generator,
the contenders' servers, and CPU and RSS read from ``/proc`` for a whole process tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable


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


# ---------------------------------------------------------------------------------------------
# /proc: process trees, RSS, CPU time, the machine


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


def open_fds(pid: int) -> int:
    """How many files (here: almost all sockets) a process has open."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped because a listen backlog was full (whole
    machine, since boot: TcpExt ListenOverflows); None where /proc does not say."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:") and "ListenOverflows" in names.split():
            return int(values.split()[names.split().index("ListenOverflows")])
    return None


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


# ---------------------------------------------------------------------------------------------
# Contender servers


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

    def fds(self) -> int:
        return sum(open_fds(p) for p in self.pids)

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


def tail_log(path: Path, n: int = 3) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " / ".join(line.strip()[:200] for line in lines[-n:])


# ---------------------------------------------------------------------------------------------
# Mock upstream and load generator


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


def stop_mock(mock: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(mock.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        mock.wait(timeout=5)


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

    def run(
        self, job: dict[str, Any], on_progress: Callable[[int], None] | None = None
    ) -> dict[str, Any]:
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
def sampling(proc: Proc | None, mock_pid: int, fds: bool = False) -> Iterator[dict[str, float]]:
    """CPU (cores busy) and peak RSS of a contender's process tree while the block runs; with
    ``fds``, also the peak of its open files (sockets), sampled every 0.5 s."""
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
    peak_fds = [proc.fds() if fds else 0]

    def sampler() -> None:
        ticks = 0
        while not stop.wait(0.1):
            peak[0] = max(peak[0], proc.rss_mb())
            ticks += 1
            if fds and ticks % 5 == 0:  # listing 16,000 fds is not free
                peak_fds[0] = max(peak_fds[0], proc.fds())

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
        if fds:
            out["peak_fds"] = peak_fds[0]
