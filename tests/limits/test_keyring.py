"""The key ring: secrets to policies, usable or not, and allowlists by name, pattern and
`provider/model`."""

from __future__ import annotations

import pytest

from plexus.config import parse_config
from plexus.errors import Forbidden, Unauthorized
from plexus.limits.gate import Gate
from plexus.limits.keys import KeyPolicy, KeyRing
from plexus.limits.limiter import Limiter
from plexus.limits.pool import LocalPool
from plexus.routing import Router

CONFIG = parse_config(
    {
        "providers": {
            "oa": {"type": "chat", "api_base_url": "http://x/v1", "models": ["gpt-4o", "o3"]},
            "an": {"type": "messages", "api_base_url": "http://y/v1", "models": ["claude"]},
        },
        "models": {"fast": {"targets": [{"provider": "oa", "model": "gpt-4o"}]}},
        "keys": {
            "alice": {"secret": "sk-a", "models": ["fast", "oa/*", "claude"]},
            "bob": {"secret": "sk-b"},
            "old": {"secret": "sk-o", "expires": "2020-01-01"},
        },
    }
)


def test_a_secret_finds_its_policy() -> None:
    ring = KeyRing.from_config(CONFIG.keys)
    assert ring.match("sk-a") == KeyPolicy.from_config("alice", CONFIG.keys["alice"])
    assert ring.match("sk-x") is None
    old = ring.match("sk-o")
    assert old is not None
    with pytest.raises(Unauthorized, match="expired"):
        old.check_usable()
    old.check_usable(now=1.0)  # before 2020 it was fine


def test_the_allowlist_takes_names_patterns_and_provider_models() -> None:
    ring = KeyRing.from_config(CONFIG.keys)
    ring.check_model("alice", "fast")
    ring.check_model("alice", "oa/o3")
    ring.check_model("alice", "o3", "oa/o3")  # a listed model, also known by its provider
    ring.check_model("alice", "claude")
    ring.check_model("bob", "an/claude")
    with pytest.raises(Forbidden):
        ring.check_model("alice", "an/claude")
    with pytest.raises(Forbidden):
        ring.check_model("alice", "o3")


def test_the_model_list_shows_only_what_the_key_may_call() -> None:
    gate = Gate(CONFIG, Limiter(LocalPool()), KeyRing.from_config(CONFIG.keys), 1)
    entries = Router(CONFIG).models()
    assert [e.id for e in gate.models("alice", entries)] == [
        "fast", "gpt-4o", "o3", "claude", "oa/gpt-4o", "oa/o3",
    ]  # fmt: skip
    assert gate.models("bob", entries) == entries
