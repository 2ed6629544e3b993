"""OpenBlocks: the IR block indexes every stream decoder hands out."""

from __future__ import annotations

from plexus import ir
from plexus.protocols.blocks import OpenBlocks


def test_indexes_are_handed_out_in_order_and_closed_once() -> None:
    blocks: OpenBlocks[str] = OpenBlocks()
    out: list[ir.StreamEvent] = []
    assert blocks.open("b", ir.TextBlock(""), out) == 0
    assert blocks.start(ir.ThinkingBlock(), out) == 1  # not tracked: the caller closes it
    assert blocks.open("a", ir.TextBlock(""), out) == 2
    assert blocks.open_keys() == ["b", "a"] and "a" in blocks and blocks.get("z") is None
    assert blocks.close("b", out) == 0 and blocks.close("b", out) is None
    blocks.close_all(out)
    assert out == [
        ir.BlockStart(0, ir.TextBlock("")),
        ir.BlockStart(1, ir.ThinkingBlock()),
        ir.BlockStart(2, ir.TextBlock("")),
        ir.BlockStop(0),
        ir.BlockStop(2),
    ]
    assert blocks.open_keys() == []


def test_close_all_follows_opening_order_not_key_order() -> None:
    blocks: OpenBlocks[int] = OpenBlocks()
    out: list[ir.StreamEvent] = []
    for key in (5, 1, 3):
        blocks.open(key, ir.TextBlock(""), out)
    out.clear()
    blocks.close_all(out)
    assert out == [ir.BlockStop(0), ir.BlockStop(1), ir.BlockStop(2)]
