"""A real, throwaway Postgres for the tests: Debian's binaries (`make system-deps`), a cluster
made once per session by initdb in a temp dir and copied for each server, served on a loopback
port. Registered as a plugin in tests/conftest.py: `postgres` is the session's server, `pg_url`
a fresh database on it per test, and `postgres_template.spawn()` a server of a test's own (one
the test may kill, freeze or restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import asyncpg
import pytest

from tests.ports import free_port

# Fast: no flush to disk (a killed server loses nothing: the OS keeps what was written).
SETTINGS = ("fsync=off", "full_page_writes=off", "shared_buffers=16MB")
_databases = count(1)


def find_binaries() -> Path | None:
    """The newest `/usr/lib/postgresql/<version>/bin` holding initdb and postgres, if any."""
    found = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (path.parent / "postgres").exists() and path.parent.parent.name.isdigit()
    ]
    return max(found, key=lambda path: int(path.parent.name)) if found else None


class _Runner:
    """Runs Postgres's programs as an unprivileged user: initdb and postgres refuse root."""

    def __init__(self) -> None:
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            names = {entry.pw_name: entry for entry in pwd.getpwall()}
            self.user = names.get("postgres") or names["nobody"]

    def own(self, path: Path) -> None:
        """Hand a directory made by this process to the user the programs run as."""
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def popen(self, command: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
        """Start `command`, in a process group of its own (to signal it with its children)."""
        user = self.user
        with log.open("ab") as out:
            return subprocess.Popen(
                command,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )

    def run(self, command: list[str], log: Path, cwd: Path) -> None:
        """Run `command` to its end; a failure shows its output."""
        if self.popen(command, log, cwd).wait(timeout=120) != 0:
            raise RuntimeError(f"{command[0]} failed:\n{log.read_text()}")


class PostgresTemplate:
    """A cluster made by initdb, never started: every server starts from a copy of it."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.runner = _Runner()
        self.root = Path(tempfile.mkdtemp(prefix="plexus-pg-"))
        self.runner.own(self.root)
        self.data = self.root / "template"
        initdb = [str(binaries / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
        options = ["-E", "UTF8", "--locale=C", "--no-sync"]
        self.runner.run(initdb + options, self.root / "initdb.log", self.root)

    def spawn(self) -> PostgresServer:
        """A new server on a copy of the template, started."""
        directory = Path(tempfile.mkdtemp(prefix="server-", dir=self.root))
        self.runner.own(directory)
        data = directory / "data"
        self.runner.run(["cp", "-R", str(self.data), str(data)], directory / "cp.log", directory)
        server = PostgresServer(self.binaries, self.runner, directory)
        server.start()
        return server

    def remove(self) -> None:
        """Delete the template and every server's files."""
        shutil.rmtree(self.root, ignore_errors=True)


class PostgresServer:
    """One Postgres server on 127.0.0.1 (its unix socket in its own directory)."""

    def __init__(self, binaries: Path, runner: _Runner, directory: Path) -> None:
        self.binaries, self.runner, self.directory = binaries, runner, directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        """A `postgres://` URL of one of its databases."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 30.0) -> None:
        """Start it (again: on the same port, after crash recovery if it was killed)."""
        command = [str(self.binaries / "postgres"), "-D", str(self.directory / "data")]
        command += [
            "-p",
            str(self.port),
            "-k",
            str(self.directory),
            "-c",
            "listen_addresses=127.0.0.1",
        ]
        for setting in SETTINGS:
            command += ["-c", setting]
        log = self.directory / "postgres.log"
        self.process = self.runner.popen(command, log, self.directory)
        ready = [str(self.binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        deadline = time.monotonic() + timeout
        while subprocess.run(ready, check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"postgres did not start:\n{log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Shut it down cleanly (a fast shutdown: sessions are ended, not waited for)."""
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGCONT)  # a frozen server cannot shut down
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        """Kill it and every backend at once, as a crash or an OOM kill would (kill -9)."""
        if self.process is not None:
            self._signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def freeze(self) -> None:
        """Stop every one of its processes: connections stay open and nothing answers, as
        with a hung server or a network that drops packets."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen server run again."""
        self._signal(signal.SIGCONT)

    def _signal(self, number: signal.Signals) -> None:
        """Signal the postmaster and every backend (each in a session of its own, so not
        reached through the postmaster's process group)."""
        if self.process is None:
            return
        postmaster = self.process.pid
        for pid in [postmaster, *child_pids(postmaster)]:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(pid, number)


def child_pids(parent: int) -> list[int]:
    """The pids whose parent is `parent`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # `pid (name) state ppid ...`: the name may hold spaces, so split after its `)`.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    """The session's initdb'd cluster; the tests that need it are skipped without Postgres."""
    binaries = find_binaries()
    if binaries is None:
        reason = (
            "Postgres not found (no /usr/lib/postgresql/*/bin/initdb): `make system-deps` "
            "installs Debian's postgresql"
        )
        if os.environ.get("CI"):  # CI runs `make system-deps`: a skip there would hide a gap
            pytest.fail(reason)
        pytest.skip(reason)
    template = PostgresTemplate(binaries)
    yield template
    template.remove()


@pytest.fixture(scope="session")
def postgres(postgres_template: PostgresTemplate) -> Iterator[PostgresServer]:
    """The session's shared server; tests that stop or kill a server spawn their own."""
    server = postgres_template.spawn()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = f"test_{os.getpid()}_{next(_databases)}"
    asyncio.run(_administer(postgres, f"CREATE DATABASE {name}"))
    yield postgres.url(name)
    asyncio.run(_administer(postgres, f"DROP DATABASE {name} WITH (FORCE)"))


async def _administer(server: PostgresServer, statement: str) -> None:
    admin = await asyncpg.connect(server.url(), timeout=10)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()
