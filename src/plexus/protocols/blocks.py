"""Block index bookkeeping every stream decoder shares."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

from plexus import ir

K = TypeVar("K", bound=Hashable)


class OpenBlocks(Generic[K]):
    """Hands out IR block indexes 0, 1, … in order and tracks the blocks still open, keyed by
    whatever the upstream names them by (its own index, an item id, a block kind)."""

    __slots__ = ("_next", "_open")

    def __init__(self) -> None:
        self._next = 0
        self._open: dict[K, int] = {}

    def open(self, key: K, block: ir.Block, out: list[ir.StreamEvent]) -> int:
        """Open `block` under `key`: append its BlockStart to `out`; return its index."""
        index = self.start(block, out)
        self._open[key] = index
        return index

    def start(self, block: ir.Block, out: list[ir.StreamEvent]) -> int:
        """Append a BlockStart for a block no key will find (the caller closes it)."""
        index = self._next
        self._next += 1
        out.append(ir.BlockStart(index, block))
        return index

    def get(self, key: K) -> int | None:
        """The index of the open block under `key`, if any."""
        return self._open.get(key)

    def __contains__(self, key: K) -> bool:
        return key in self._open

    def open_keys(self) -> list[K]:
        """The keys of the open blocks, in opening order."""
        return sorted(self._open, key=self._open.__getitem__)

    def close(self, key: K, out: list[ir.StreamEvent]) -> int | None:
        """Close the block under `key`, if open: append its BlockStop; return its index."""
        index = self._open.pop(key, None)
        if index is not None:
            out.append(ir.BlockStop(index))
        return index

    def close_all(self, out: list[ir.StreamEvent]) -> None:
        """Close every open block, in opening order."""
        out.extend(ir.BlockStop(index) for index in sorted(self._open.values()))
        self._open.clear()
