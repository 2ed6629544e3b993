"""The key ring: secrets to policies, usable or not, and allowlists by name, pattern and
`provider/model`."""

from __future__ import annotations

import pytest

from plexus.config import parse_config
from plexus.errors import Forbidden, Unauthorized
from plexus.limits.gate import Gate
from plexus.limits.keys import HashedKey, KeyPolicy, KeyRing, secret_hash
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


def test_a_stored_key_is_found_by_its_secrets_hash() -> None:
    carol = KeyPolicy("carol", models=("fast",))
    stored = [HashedKey(secret_hash("sk-plx-carol"), carol)]
    ring = KeyRing.from_config(CONFIG.keys, stored)
    assert ring.match("sk-plx-carol") is carol
    assert ring.match("sk-a") == KeyPolicy.from_config("alice", CONFIG.keys["alice"])
    assert ring.match(secret_hash("sk-plx-carol")) is None  # the hash is not a secret
    assert ring.allowlist("carol") is not None
    with pytest.raises(Forbidden):
        ring.check_model("carol", "claude")
    assert not KeyRing.from_config({}, stored).empty
    assert KeyRing.from_config({}).empty


def test_a_rotated_out_secret_works_until_its_grace_ends() -> None:
    dave = KeyPolicy("dave")
    stored = [HashedKey(secret_hash("new"), dave), HashedKey(secret_hash("old"), dave, 100.0)]
    ring = KeyRing.from_config({}, stored)
    assert ring.match("old", now=99.0) is dave
    assert ring.match("old", now=100.0) is None
    assert ring.match("new", now=1e12) is dave


def test_a_config_key_wins_over_a_stored_key_of_its_name() -> None:
    shadow = KeyPolicy("alice", rpm=1)
    ring = KeyRing.from_config(CONFIG.keys, [HashedKey(secret_hash("sk-plx-x"), shadow)])
    assert ring.match("sk-plx-x") is None
    assert ring.policies["alice"] == KeyPolicy.from_config("alice", CONFIG.keys["alice"])
