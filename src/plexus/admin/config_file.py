"""The config file on disk: its version tag, whether it may be written, and the atomic write
(a temporary file beside it, fsync, rename over it: a reader or a crash never sees half a file).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

WRITES_ENV = "PLEXUS_ADMIN_CONFIG_WRITES"
_OFF = frozenset({"0", "false", "no", "off"})


def etag(data: bytes) -> str:
    """The strong ETag of a version of the file: a hash of its bytes."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


class ConfigFile:
    """One config file, read and replaced whole."""

    def __init__(self, path: str) -> None:
        self.shown = path
        # Write where a symlink points (a mounted config), not over the link itself.
        self.path = Path(os.path.realpath(path))

    def read(self) -> bytes:
        """The file's bytes."""
        return self.path.read_bytes()

    def refusal(self, writes_enabled: bool) -> str | None:
        """Why the file cannot be written now, or None when it can.

        A file or directory whose mode has no write bit counts as read-only even for root,
        who could write it anyway: the operator marked it so."""
        if not writes_enabled:
            return "config writes are disabled (admin.config_writes: false)"
        if os.environ.get(WRITES_ENV, "").strip().lower() in _OFF:
            return f"config writes are disabled ({WRITES_ENV})"
        try:
            mode = self.path.stat().st_mode
        except OSError as error:
            return f"the config file {self.shown} cannot be read: {error.strerror}"
        if not mode & 0o222 or not os.access(self.path, os.W_OK):
            return f"the config file {self.shown} is read-only"
        folder = self.path.parent
        folder_mode = folder.stat().st_mode
        if not folder_mode & 0o222 or not os.access(folder, os.W_OK | os.X_OK):
            return (
                f"the directory of {self.shown} is read-only "
                "(an atomic replace writes a temporary file beside the config)"
            )
        return None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock of the file's directory (blocking): the workers of a server read,
        check and replace the file one at a time, so two edits with one ETag cannot both win."""
        descriptor = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

    def write(self, data: bytes) -> None:
        """Replace the file with `data` atomically, keeping its mode (and owner, as root)."""
        info = self.path.stat()
        handle, temporary = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
                os.fchmod(out.fileno(), stat.S_IMODE(info.st_mode))
                if os.geteuid() == 0:
                    os.fchown(out.fileno(), info.st_uid, info.st_gid)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _sync_directory(self.path.parent)


def _sync_directory(folder: Path) -> None:
    """Make the rename durable (the directory entry is what changed)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
