"""Config reload on SIGHUP or when the file changes; an invalid file leaves the old config."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable

import structlog

from plexus.config import Config, ConfigError, load_config
from plexus.providers import ADAPTERS

_log = structlog.get_logger("plexus")
POLL_SECONDS = 1.0


class ConfigWatcher:
    """Watches one config file and hands every valid new version to `apply`."""

    def __init__(self, path: str, apply: Callable[[Config], None]) -> None:
        self.path = path
        self.apply = apply
        self._mtime = self._stat()
        self._task: asyncio.Task[None] | None = None

    def _stat(self) -> float | None:
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return None

    def start(self) -> None:
        """Begin polling the file and listening for SIGHUP."""
        self._task = asyncio.create_task(self._poll())
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload)

    async def stop(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            mtime = self._stat()
            if mtime is not None and mtime != self._mtime:
                self._mtime = mtime
                self.reload()

    def reload(self) -> bool:
        """Load the file again; apply it if valid, else log its problems and keep the old one."""
        self._mtime = self._stat()  # this version is handled: the poller need not load it again
        try:
            config = load_config(self.path, ADAPTERS)
        except ConfigError as error:
            _log.error("config reload rejected", path=self.path, problems=error.problems)
            return False
        self.apply(config)
        _log.info("config reloaded", path=self.path)
        return True
