"""A bounded store of the output items the gateway issued, per gateway key, so a client may
refer to them again by id (`item_reference`); the oldest go first."""

from __future__ import annotations

from collections import OrderedDict

MAX_ITEMS = 20_000
MAX_BYTES = 64 * 1024 * 1024


class ItemStore:
    """Recent items by (gateway key, item id), within a count and a byte budget."""

    def __init__(self, max_items: int = MAX_ITEMS, max_bytes: int = MAX_BYTES) -> None:
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._bytes = 0
        self._max_items = max_items
        self._max_bytes = max_bytes

    def remember(self, key: str, items: list[tuple[str, bytes]]) -> None:
        """Keep `items` (id, JSON) for `key`, forgetting the oldest beyond the budget."""
        for item_id, data in items:
            old = self._items.pop((key, item_id), None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key, item_id] = data
            self._bytes += len(data)
        while self._items and (len(self._items) > self._max_items or self._bytes > self._max_bytes):
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped)

    def get(self, key: str, item_id: str) -> bytes | None:
        """The item `key` was given under `item_id`, if still held."""
        return self._items.get((key, item_id))
