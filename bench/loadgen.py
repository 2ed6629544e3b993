"""Closed-loop HTTP/1.1 load generator for the benchmark (its own process; uvloop + httptools).

Each of ``concurrency`` keep-alive connections sends a prebuilt POST, waits for the whole response
(Content-Length or chunked, parsed by httptools) and sends the next one. Measured per request:
latency (send to last byte), for streams the time to the first SSE event (first ``data:`` line) and
the number of events; optionally the gaps between events. Warm-up is excluded: only responses that
complete inside the measuring window count. A response is an error unless it has status 200 and its
body holds the expected marker (e.g. ``[DONE]`` for a Chat Completions stream). Also counted: how
many streams were open at once (first event received, last byte not yet) at the peak. Connections
can be opened in batches (``open_batch`` every ``open_every`` seconds), and no faster than the
server answers them (at most ``open_window`` new connections waiting for their answer's head), so
that thousands of them do not overflow the server's listen backlog, even when it is slowed down.

Two modes:
- ``python bench/loadgen.py serve``: read one JSON job per line on stdin, answer one JSON result per
  line on stdout (used by ``bench/run.py`` so the generator process is started once).
- ``python bench/loadgen.py once --job '{...}'``: run one job and print its result.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import httptools


@dataclass(slots=True)
class Request:
    """One prebuilt request and how to judge its response."""

    raw: bytes
    stream: bool
    expect: bytes  # must occur in the body
    abort_after_first_event: bool = False


@dataclass(slots=True)
class Job:
    host: str
    port: int
    requests: list[Request]  # used round-robin (a mix)
    concurrency: int = 1
    duration: float = 2.0
    warmup: float = 0.5
    total: int = 0  # if > 0: stop after this many completed responses instead of after duration
    per_conn: int = 0  # if > 0: each connection sends this many requests, then the job ends
    min_ok: int = 30  # stretch the window until it holds this many good responses...
    max_time: float = 10.0  # ...but end the whole job after this many seconds
    gaps: bool = False  # record the gaps between events of streams
    drain: float = 2.0  # seconds to let in-flight requests finish after the window
    progress_every: int = 0  # if > 0 (with total): print {"progress": n} lines
    open_batch: int = 0  # if > 0: connections are opened this many at a time...
    open_every: float = 0.0  # ...one batch every this many seconds
    open_window: int = 0  # if > 0: new connections waiting for their answer's head, at most


@dataclass(slots=True)
class Open:
    """Streams open at once: their first event is in, their last byte not yet."""

    now: int = 0
    peak: int = 0
    t_peak: float = 0.0  # perf_counter() when the peak was reached


def summarize(v: list[float]) -> dict[str, float | int | None]:
    """p50/p90/p99/max/mean in milliseconds."""
    if not v:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    s = sorted(v)

    def at(q: float) -> float:
        return round(s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))] * 1000, 4)

    return {
        "n": len(s),
        "p50": at(50),
        "p90": at(90),
        "p99": at(99),
        "max": round(s[-1] * 1000, 4),
        "mean": round(sum(s) / len(s) * 1000, 4),
    }


class Conn(asyncio.Protocol):
    """One keep-alive client connection; ``request()`` sends and resolves with the outcome."""

    def __init__(self, gaps: bool, live: Open | None = None) -> None:
        self.tr: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.fut: asyncio.Future[tuple[int, int, float, bool]] | None = None
        self.expect = b""
        self.found = False
        self.status = 0
        self.events = 0
        self.first_event = 0.0
        self.tail = b""
        self.carry = b""
        self.body_head = b""
        self.nbytes = 0
        self.keep_alive = True
        self.closed = False
        self.want_gaps = gaps
        self.gaps: list[float] = []
        self.last_event = 0.0
        self.abort_first = False
        self.is_stream = False
        self.live = live  # shared by the job's connections
        self.counted = False  # this stream is counted in ``live.now``
        self.on_head: Callable[[], None] | None = None  # called once: head in, or failed

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.tr = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # pragma: no cover
            pass
        except httptools.HttpParserError as e:
            self._fail(f"parse error: {e}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(f"connection lost: {exc!r}" if exc else "connection closed by server")

    def _head_in(self) -> None:
        cb, self.on_head = self.on_head, None
        if cb is not None:
            cb()

    def _fail(self, why: str) -> None:
        self._head_in()
        self._uncount()
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_exception(ConnectionError(why))
        self.fut = None

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self._head_in()
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.nbytes += len(body)
        if not self.is_stream:
            self.body_head += body
            return
        if len(self.body_head) < 300:
            self.body_head += body[:300]
        scan = self.carry + body
        self.carry = scan[-4:]  # "data:" split across reads; 4 bytes cannot hold a whole one
        n = scan.count(b"data:")
        if n:
            now = time.perf_counter()
            if not self.events:
                self.first_event = now
                live = self.live
                if live is not None:
                    live.now += 1
                    self.counted = True
                    if live.now > live.peak:
                        live.peak, live.t_peak = live.now, now
            elif self.want_gaps:
                self.gaps.append(now - self.last_event)
            self.last_event = now
            self.events += n
            if self.abort_first and self.tr is not None:
                self._uncount()
                self.tr.abort()
                fut = self.fut
                if fut is not None and not fut.done():
                    fut.set_result((-1, self.events, self.first_event, False))
                self.fut = None
                return
        if not self.found:
            mscan = self.tail + body
            if self.expect in mscan:
                self.found = True
            self.tail = mscan[-len(self.expect) :]

    def _uncount(self) -> None:
        if self.counted and self.live is not None:
            self.live.now -= 1
        self.counted = False

    def on_message_complete(self) -> None:
        self._uncount()
        fut = self.fut
        self.fut = None
        if fut is not None and not fut.done():
            found = self.found if self.is_stream else self.expect in self.body_head
            fut.set_result((self.status, self.events, self.first_event, found))
        if not self.keep_alive and self.tr is not None:
            self.tr.close()

    def request(self, req: Request) -> asyncio.Future[tuple[int, int, float, bool]]:
        assert self.tr is not None
        loop = asyncio.get_running_loop()
        self.fut = loop.create_future()
        self.status = 0
        self.events = 0
        self.first_event = 0.0
        self.tail = b""
        self.carry = b""
        self.body_head = b""
        self.nbytes = 0
        self.abort_first = req.abort_after_first_event
        self.is_stream = req.stream
        self.expect = req.expect
        self.found = False
        self.tr.write(req.raw)
        return self.fut


async def _connect(host: str, port: int, gaps: bool, live: Open | None = None) -> Conn:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(lambda: Conn(gaps, live), host, port)
    return proto


async def run_job(job: Job, on_progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run one closed-loop job and summarise it.

    Every completion is recorded with its time; the measuring window is chosen afterwards: it
    starts after ``warmup`` *and* once ``concurrency`` responses have completed (so that a slow
    contender reaches its steady state), lasts ``duration``, and is stretched until it holds
    ``min_ok`` responses or the whole job reaches ``max_time``. With ``total`` (or ``per_conn``)
    the job instead runs until that many responses and the window is the whole run.
    """
    reqs = job.requests
    counter = [0]
    stop = asyncio.Event()
    t_start = time.perf_counter()
    # (t_done, ok, latency, ttfe or -1, events, nbytes); aborted streams have ok=2
    done: list[tuple[float, int, float, float, int, int]] = []
    gaps: list[float] = []
    error_samples: list[str] = []
    conns: list[Conn] = []
    fixed = job.total > 0 or job.per_conn > 0
    live = Open()
    last_open = [t_start]  # when the last connection (of the ramp) was made
    opening = asyncio.Semaphore(job.open_window) if job.open_window else None

    async def connect() -> Conn:
        """A new connection; with ``open_window``, once fewer than that many new ones wait
        for their answer's head (the slot is given back when it is in, or the request fails)."""
        if opening is None:
            return await _connect(job.host, job.port, job.gaps, live)
        await opening.acquire()
        try:
            conn = await _connect(job.host, job.port, job.gaps, live)
        except BaseException:
            opening.release()
            raise
        conn.on_head = opening.release
        return conn

    def note_error(msg: str) -> None:
        if len(error_samples) < 5:
            error_samples.append(msg[:400])

    async def worker(k: int) -> None:
        conn: Conn | None = None
        mine = 0
        if job.open_batch and k >= job.open_batch:
            await asyncio.sleep(k // job.open_batch * job.open_every)
        while not stop.is_set():
            if job.per_conn and mine >= job.per_conn:
                return
            mine += 1
            i = counter[0]
            counter[0] = i + 1
            req = reqs[i % len(reqs)]
            t0 = time.perf_counter()
            try:
                if conn is None or conn.closed:
                    conn = await connect()
                    conns.append(conn)
                    t0 = last_open[0] = time.perf_counter()
                status, events, first, found = await conn.request(req)
            except (OSError, ConnectionError) as e:
                done.append((time.perf_counter(), 0, 0.0, -1.0, 0, 0))
                note_error(f"{type(e).__name__}: {e}")
                conn = None
                await asyncio.sleep(0.01)
                continue
            t1 = time.perf_counter()
            if status == -1:  # aborted by us after the first event
                done.append((t1, 2, t1 - t0, first - t0, events, conn.nbytes))
                conn = None
            else:
                good = status == 200 and found and (events > 0 or not req.stream)
                if not good:
                    note_error(
                        f"status {status}, {events} events: "
                        + conn.body_head[:400].decode("utf-8", "replace")
                    )
                done.append(
                    (
                        t1,
                        int(good),
                        t1 - t0,
                        first - t0 if req.stream and events else -1.0,
                        events,
                        conn.nbytes,
                    )
                )
                if job.gaps:
                    gaps.extend(conn.gaps)
                    conn.gaps = []
            n = len(done)
            if fixed:
                if on_progress and job.progress_every and n % job.progress_every == 0:
                    on_progress(n)
                if job.total and n >= job.total:
                    stop.set()

    tasks = [asyncio.ensure_future(worker(k)) for k in range(job.concurrency)]
    if fixed:
        _, pending = await asyncio.wait(tasks, timeout=job.max_time)
        t_measure, t_end = t_start, time.perf_counter()
    else:
        await asyncio.sleep(job.warmup)
        while len(done) < job.concurrency and time.perf_counter() - t_start < job.max_time / 2:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        t_measure = time.perf_counter()
        t_end = t_measure + job.duration
        await asyncio.sleep(job.duration)
        while time.perf_counter() - t_start < job.max_time:
            n_ok = sum(1 for d in done if d[0] >= t_measure and d[1] == 1)
            if n_ok >= job.min_ok:
                break
            await asyncio.sleep(0.05)
        t_end = max(t_end, time.perf_counter())
        stop.set()
        _, pending = await asyncio.wait(tasks, timeout=job.drain)
    for t in pending:
        t.cancel()
    for c in conns:
        if c.tr is not None and not c.closed:
            c.tr.abort()
    if pending:
        await asyncio.wait(pending)
    window = [d for d in done if t_measure <= d[0] <= t_end]
    ok = [d for d in window if d[1] == 1]
    elapsed = max(t_end - t_measure, 1e-9)
    events = sum(d[4] for d in ok)
    return {
        "ok": len(ok),
        "errors": sum(1 for d in window if d[1] == 0),
        "aborted": sum(1 for d in window if d[1] == 2),
        "unfinished": len(pending),
        "elapsed": round(elapsed, 4),
        "rps": round(len(ok) / elapsed, 2),
        "events": events,
        "events_per_s": round(events / elapsed, 1),
        "bytes": sum(d[5] for d in ok),
        "latency_ms": summarize([d[2] for d in ok]),
        "ttfe_ms": summarize([d[3] for d in ok if d[3] >= 0]),
        "gap_ms": summarize(gaps),
        "error_samples": error_samples,
        "connections": len(conns),
        # streams open at once at the peak, and when (seconds from the start of the job)
        "open_peak": live.peak,
        "open_peak_s": round(live.t_peak - t_start, 3) if live.peak else None,
        "last_connect_s": round(last_open[0] - t_start, 3),
        "first_done_s": round(min(d[0] for d in done) - t_start, 3) if done else None,
        "wall_s": round(time.perf_counter() - t_start, 3),
    }


def build_request(host: str, port: int, path: str, body: bytes, extra: dict[str, str]) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        "Accept: */*",
        f"Content-Length: {len(body)}",
    ]
    head.extend(f"{k}: {v}" for k, v in extra.items())
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def job_from_json(d: dict[str, Any]) -> Job:
    reqs = [
        Request(
            raw=build_request(
                d["host"], d["port"], r["path"], r["body"].encode(), r.get("headers", {})
            ),
            stream=bool(r["stream"]),
            expect=r["expect"].encode(),
            abort_after_first_event=bool(r.get("abort", False)),
        )
        for r in d["requests"]
    ]
    return Job(
        host=d["host"],
        port=int(d["port"]),
        requests=reqs,
        concurrency=int(d.get("concurrency", 1)),
        duration=float(d.get("duration", 2.0)),
        warmup=float(d.get("warmup", 0.5)),
        total=int(d.get("total", 0)),
        per_conn=int(d.get("per_conn", 0)),
        min_ok=int(d.get("min_ok", 30)),
        max_time=float(d.get("max_time", 10.0)),
        gaps=bool(d.get("gaps", False)),
        drain=float(d.get("drain", 2.0)),
        progress_every=int(d.get("progress_every", 0)),
        open_batch=int(d.get("open_batch", 0)),
        open_every=float(d.get("open_every", 0.0)),
        open_window=int(d.get("open_window", 0)),
    )


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def serve_stdin() -> None:
    loop = asyncio.get_running_loop()
    _emit({"ready": True})
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        line = line.strip()
        if not line:
            continue
        try:
            job = job_from_json(json.loads(line))
            res = await run_job(job, on_progress=lambda n: _emit({"progress": n}))
        except Exception as e:  # report, keep serving
            res = {"fatal": f"{type(e).__name__}: {e}"}
        _emit({"result": res})


def _raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="closed-loop HTTP load generator")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="read JSON jobs from stdin")
    once = sub.add_parser("once", help="run one JSON job")
    once.add_argument("--job", required=True)
    args = ap.parse_args(argv)
    _raise_nofile()
    with asyncio.Runner(loop_factory=_loop_factory()) as r:
        if args.cmd == "serve":
            r.run(serve_stdin())
        else:
            print(json.dumps(r.run(run_job(job_from_json(json.loads(args.job))))))


if __name__ == "__main__":
    main()
