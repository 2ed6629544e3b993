"""A free loopback port, for the servers tests start in other processes."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it; it may be taken again later,
    which a test on loopback does not race against)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
