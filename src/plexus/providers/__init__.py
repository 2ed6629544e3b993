"""Provider quirk adapters, looked up by name (style.md rule 7)."""

from __future__ import annotations

from plexus.providers.base import PLAIN, Adapter

ADAPTERS: dict[str, Adapter] = {}


def adapter_for(name: str | None) -> Adapter:
    """Return the adapter registered under `name`, or the plain one."""
    if name is None:
        return PLAIN
    return ADAPTERS.get(name, PLAIN)
