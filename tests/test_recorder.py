"""The recorder process: each worker's usage rows and spans are written by a process of its
own. Requests never wait for it; one that dies is started again and what it held is counted;
a burst bigger than the store's buffer is not dropped while the store works; the gateway's
end (SIGTERM, or Ctrl-C on its terminal) flushes it, and a worker killed outright leaves no
recorder behind."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import openai

from plexus.app import Gateway
from plexus.recorder import Recorder
from tests.conftest import Upstreams, run_gateway, start_plexus, until_healthy
from tests.pg import child_pids
from tests.ports import free_port

HI: Any = [{"role": "user", "content": "hi"}]


async def _until(check: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


def _recorders(parent: int) -> list[int]:
    """The recorder processes under `parent`, at any depth (`plexus serve` → worker →
    recorder)."""
    found, todo = [], [parent]
    while todo:
        for pid in child_pids(todo.pop()):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"plexus.recorder" in command:
                found.append(pid)
            todo.append(pid)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _recorder(gateway: Gateway) -> Recorder:
    assert gateway.recorder is not None
    return gateway.recorder


async def test_rows_are_written_by_another_process(upstreams: Upstreams, data_dir: Path) -> None:
    gateway = Gateway(upstreams.config({"usage": {"flush_seconds": 0.05}}))
    recorder = _recorder(gateway)
    async with run_gateway(gateway.config, gateway) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        await client.chat.completions.create(model="chat-model", messages=HI)
        await _until(lambda: recorder.written == 1)
        children = _recorders(os.getpid())
        assert len(children) == 1 and children[0] != os.getpid()
    assert _rows(data_dir / "usage.db") == 1
    assert not any(_alive(pid) for pid in children)  # it ended with the gateway


async def test_a_burst_beyond_a_small_buffer_is_not_dropped(
    upstreams: Upstreams, data_dir: Path
) -> None:
    # The store's buffer is 5 rows; the worker sends its requests 50 ms at a time, so the
    # recorder gets batches bigger than that. They wait for the writer, none is dropped.
    usage = {"buffer_rows": 5, "flush_seconds": 0.05}
    gateway = Gateway(upstreams.config({"usage": usage}))
    recorder = _recorder(gateway)
    async with run_gateway(gateway.config, gateway) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        await asyncio.gather(
            *(client.chat.completions.create(model="chat-model", messages=HI) for _ in range(60))
        )
    assert (recorder.written, recorder.dropped) == (60, 0)
    assert _rows(data_dir / "usage.db") == 60


async def test_a_recorder_that_dies_is_started_again_and_its_losses_counted(
    upstreams: Upstreams, data_dir: Path
) -> None:
    # The writer waits an hour between batches: the 10 rows the first recorder holds are in
    # its memory when it is killed.
    gateway = Gateway(upstreams.config({"usage": {"flush_seconds": 3600}}))
    recorder = _recorder(gateway)
    async with run_gateway(gateway.config, gateway) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        for _ in range(10):
            await client.chat.completions.create(model="chat-model", messages=HI)
        await _until(lambda: recorder.queued == 10 and recorder._status.received == 10)
        (first,) = _recorders(os.getpid())
        os.kill(first, signal.SIGKILL)
        await _until(lambda: not recorder.healthy)
        for _ in range(5):  # answered while no recorder runs; held by the worker
            answer = await client.chat.completions.create(model="chat-model", messages=HI)
            assert answer.choices[0].message.content
        assert (recorder.dropped, recorder.queued) == (10, 5)
        await _until(lambda: recorder.healthy and _recorders(os.getpid()) not in ([], [first]))
    # The second recorder took the 5 and wrote them at the gateway's end.
    assert (recorder.written, recorder.dropped, recorder.queued) == (5, 10, 0)
    assert _rows(data_dir / "usage.db") == 5


async def test_ctrl_c_on_the_terminal_flushes_and_a_killed_worker_leaves_no_recorder(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    config = tmp_path / "plexus.yaml"
    database = tmp_path / "usage.db"
    chat = upstreams.base_url("chat")
    providers = f"  mock-chat: {{type: chat, api_base_url: '{chat}', api_key: upstream-key}}\n"
    config.write_text(
        f"usage: {{database: 'sqlite:///{database}', flush_seconds: 3600}}\n"
        f"providers:\n{providers}"
        "models:\n  chat-model: {targets: [{provider: mock-chat, model: up-chat}]}\n"
    )
    # Ctrl-C: the terminal signals the whole foreground process group. The recorder is in a
    # session of its own, so the worker ends it in order and it writes what it holds.
    port = free_port()
    process = await start_plexus(config, port, tmp_path / "gateway.log", new_group=True)
    url = f"http://127.0.0.1:{port}"
    try:
        await until_healthy(url)
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        async with client:
            for _ in range(7):
                await client.chat.completions.create(model="chat-model", messages=HI)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)
    assert _rows(database) == 7

    # A worker killed outright: its recorder's stdin closes, and it ends too.
    port = free_port()
    process = await start_plexus(config, port, tmp_path / "gateway.log")
    try:
        await until_healthy(url := f"http://127.0.0.1:{port}")
        await _until(lambda: len(_recorders(process.pid)) == 1)
        (recorder,) = _recorders(process.pid)
    finally:
        process.kill()
        await process.wait()
    await _until(lambda: not _alive(recorder))


async def test_a_gateway_closed_while_its_recorder_starts_leaves_none_behind(
    upstreams: Upstreams,
) -> None:
    # Closed at once: the recorder's process is being started. It must be ended and its pipes
    # closed, not left running until the garbage collector finds it (and the event loop gone).
    for pause in (0.0, 0.001, 0.002, 0.005, 0.01, 0.02):
        gateway = Gateway(upstreams.config())
        recorder = _recorder(gateway)
        recorder.start()
        await asyncio.sleep(pause)
        await recorder.close()
        assert [pid for pid in _recorders(os.getpid()) if _alive(pid)] == [], pause
