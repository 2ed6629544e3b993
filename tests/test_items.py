"""The issued-item store: per key, bounded in count and bytes, oldest out first."""

from __future__ import annotations

from plexus.items import ItemStore


def test_items_are_kept_per_key_and_the_oldest_go_first() -> None:
    store = ItemStore(max_items=3, max_bytes=1000)
    store.remember("a", [("1", b"one"), ("2", b"two")])
    store.remember("b", [("1", b"bee")])
    assert store.get("a", "1") == b"one" and store.get("b", "1") == b"bee"
    assert store.get("b", "2") is None
    store.remember("a", [("3", b"three")])
    assert store.get("a", "1") is None and store.get("a", "3") == b"three"


def test_the_byte_budget_holds() -> None:
    store = ItemStore(max_items=100, max_bytes=10)
    store.remember("k", [("1", b"x" * 6), ("2", b"y" * 6)])
    assert store.get("k", "1") is None and store.get("k", "2") == b"y" * 6
    store.remember("k", [("2", b"z")])  # replacing an item frees its old bytes
    store.remember("k", [("3", b"w" * 9)])
    assert store.get("k", "2") == b"z" and store.get("k", "3") == b"w" * 9
