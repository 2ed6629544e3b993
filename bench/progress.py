"""Progress lines on stderr: elapsed time, steps done of the plan and the time left."""

from __future__ import annotations

import sys
import time


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
