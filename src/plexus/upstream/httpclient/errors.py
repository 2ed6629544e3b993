"""What can go wrong below HTTP: every failure the client raises is a TransportError."""

from __future__ import annotations


class TransportError(Exception):
    """The request could not be carried out at the transport level."""


class ConnectError(TransportError):
    """No connection could be opened (refused, unresolvable, TLS handshake failed)."""


class ConnectTimeout(TransportError):
    """Opening the connection took longer than allowed."""


class ConnectionBroken(TransportError):
    """The connection closed or sent something that is not HTTP before the answer was whole."""


class ReadTimeout(TransportError):
    """The answer (its head, or all of it when read whole) did not come in time."""


class LocalResourceError(ConnectError):
    """This process ran out of a local resource (file descriptors, buffers, memory) opening a
    connection: a gateway problem, not the upstream's."""


class PoolFull(ConnectTimeout):
    """Every connection to the origin allowed at once was busy for the whole connect timeout."""
