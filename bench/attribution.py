"""Where Plexus's GIL time goes, by platform feature: a sampling profile (py-spy, `--gil`: only
the thread holding the GIL is sampled) of `plexus` under load, each sample charged to the
features whose code is on its stack.

With one worker the GIL-holding thread is the bottleneck (the event loop is ~98% busy at c=64),
so a feature's share of the GIL samples is what it costs in throughput. Unlike the difference of
two throughputs, the share is measured inside one run of one process, so the machine's swings
(±25% between repetitions of the same point here) cancel out.

Only the worker is profiled: its recorder process (which writes the usage rows and makes and
exports the spans) is another process, off the worker's GIL; what it costs the worker is the
hand-off (`recorder`), and its CPU shows in the run's CPU column (the whole process tree).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A feature and the source paths that are its code (any frame of them on a stack counts).
FEATURES: dict[str, tuple[str, ...]] = {
    "usage store": ("plexus/ledger/",),
    "metrics": ("plexus/metrics.py",),
    "traces": ("plexus/tracing/",),
    "recorder": ("plexus/recorder/",),  # handing finished requests to the recorder process
    "limits": ("plexus/limits/", "plexus/shared/"),
}
RATE = 500  # samples per second


def py_spy() -> str | None:
    """The py-spy binary of this environment (the bench extras install it), if any."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass
class Recording:
    """A py-spy run in progress and where it writes."""

    proc: subprocess.Popen[bytes]
    out: Path


def record(pid: int, seconds: float) -> Recording | None:
    """Start sampling `pid` for `seconds` (None when py-spy is missing)."""
    binary = py_spy()
    if binary is None:
        return None
    out = Path(tempfile.mkdtemp(prefix="plexus-spy-")) / "stacks.txt"
    cmd = [binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
           "--rate", str(RATE), "--gil", "--threads", "--nonblocking", "--format", "raw",
           "--output", str(out)]  # fmt: skip
    return Recording(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), out)


def finish(recording: Recording | None) -> dict[str, Any] | None:
    """Wait for a recording; its shares (None: py-spy is missing; `error`: it could not
    sample, e.g. without the right to trace the process)."""
    if recording is None:
        return None
    _, err = recording.proc.communicate(timeout=60)
    try:
        if recording.proc.returncode != 0 or not recording.out.exists():
            return {"error": err.decode(errors="replace")[-300:]}
        return shares(recording.out.read_text().splitlines())
    finally:
        shutil.rmtree(recording.out.parent, ignore_errors=True)


def shares(lines: Iterable[str]) -> dict[str, Any]:
    """The samples in py-spy's raw format (`frame;frame;... count`), charged to features."""
    total = 0
    charged = dict.fromkeys(FEATURES, 0)
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        for feature, paths in FEATURES.items():
            if any(path in stack for path in paths):
                charged[feature] += samples
    return {
        "samples": total,
        "share": {f: (n / total if total else 0.0) for f, n in charged.items()},
    }
