"""Gateway keys as the request path sees them: who a secret belongs to, whether it may be used
now, and which models it may call.

The `KeyRing` takes its keys from two sources through the same `KeyPolicy`: the config's, whose
secrets are compared in constant time, and those the admin API stored, known only by their
secret's sha256 and found by one dict lookup of the presented secret's hash (a secret of 32
random bytes needs no slow hash). A name in both is the config's.
"""

from __future__ import annotations

import datetime
import fnmatch
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from plexus.config import BudgetConfig, KeyConfig
from plexus.errors import Forbidden, Unauthorized


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """One key's name and everything it is allowed, ready for the request path."""

    name: str
    models: tuple[str, ...] | None = None  # None: every model
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    budget: BudgetConfig | None = None
    expires: float | None = None  # Unix seconds
    disabled: bool = False

    @property
    def limited(self) -> bool:
        """Whether the Limiter has anything to count for this key."""
        return bool(self.rpm or self.tpm or self.max_parallel or self.budget)

    @classmethod
    def from_config(cls, name: str, key: KeyConfig) -> KeyPolicy:
        """The policy of a key in the YAML."""
        expires = key.expires.timestamp() if key.expires is not None else None
        models = tuple(key.models) if key.models is not None else None
        return cls(
            name, models, key.rpm, key.tpm, key.max_parallel, key.budget, expires, key.disabled
        )

    def check_usable(self, now: float | None = None) -> None:
        """401 for a disabled or expired key."""
        if self.disabled:
            raise Unauthorized(f"The API key '{self.name}' is disabled.")
        if self.expires is not None and (now if now is not None else time.time()) >= self.expires:
            when = datetime.datetime.fromtimestamp(self.expires, datetime.UTC).isoformat()
            raise Unauthorized(f"The API key '{self.name}' expired at {when}.")


class Allowlist:
    """A key's `models`: exact names and glob patterns, compiled into one regex."""

    __slots__ = ("_exact", "_pattern")

    def __init__(self, entries: Iterable[str]) -> None:
        entries = list(entries)
        self._exact = frozenset(e for e in entries if not _is_pattern(e))
        globs = [fnmatch.translate(e) for e in entries if _is_pattern(e)]
        self._pattern = re.compile("|".join(globs)) if globs else None

    def allows(self, *names: str) -> bool:
        """Whether any of the names a model goes by is on the list."""
        for name in names:
            if name in self._exact:
                return True
            if self._pattern is not None and self._pattern.match(name):
                return True
        return False


def _is_pattern(entry: str) -> bool:
    return any(char in entry for char in "*?[")


def secret_hash(secret: str) -> str:
    """How a stored key's secret is kept and looked up: its sha256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class HashedKey:
    """A stored key's secret as its hash, with its policy; `until`: the Unix time a rotated-out
    secret stops working (None: it does not)."""

    digest: str
    policy: KeyPolicy
    until: float | None = None


class KeyRing:
    """The keys a gateway accepts, by secret, with their policies and allowlists."""

    def __init__(
        self, keys: Iterable[tuple[bytes, KeyPolicy]], stored: Iterable[HashedKey] = ()
    ) -> None:
        self._secrets = list(keys)
        self.policies: dict[str, KeyPolicy] = {policy.name: policy for _, policy in self._secrets}
        configured = set(self.policies)
        self._hashed = {k.digest: k for k in stored if k.policy.name not in configured}
        for hashed in self._hashed.values():
            self.policies.setdefault(hashed.policy.name, hashed.policy)
        self._allowlists = {
            name: Allowlist(policy.models)
            for name, policy in self.policies.items()
            if policy.models is not None
        }

    @classmethod
    def from_config(
        cls, keys: Mapping[str, KeyConfig], stored: Iterable[HashedKey] = ()
    ) -> KeyRing:
        """The keys of the YAML (those with a secret), and the stored ones."""
        configured = (
            (key.secret.encode(), KeyPolicy.from_config(name, key))
            for name, key in keys.items()
            if key.secret
        )
        return cls(configured, stored)

    @property
    def empty(self) -> bool:
        """Whether no key is configured or stored (the API is open)."""
        return not self._secrets and not self._hashed

    def match(self, presented: str, now: float | None = None) -> KeyPolicy | None:
        """The policy whose secret is `presented`: a stored key by its hash, else a config
        key, every one of whose secrets is compared so that timing does not reveal which one
        matched."""
        if self._hashed:
            hashed = self._hashed.get(secret_hash(presented))
            if hashed is not None:
                moment = now if now is not None else time.time()
                if hashed.until is None or moment < hashed.until:
                    return hashed.policy
        candidate = presented.encode()
        matched = None
        for secret, policy in self._secrets:
            if hmac.compare_digest(candidate, secret):
                matched = policy
        return matched

    def allowlist(self, name: str) -> Allowlist | None:
        """The key's allowlist, None when it may call every model."""
        return self._allowlists.get(name)

    def check_model(self, name: str, model: str, provider_model: str | None = None) -> None:
        """403 when the key may not call `model` (also known as `provider_model`)."""
        allowlist = self._allowlists.get(name)
        if allowlist is None:
            return
        names = (model,) if provider_model is None else (model, provider_model)
        if not allowlist.allows(*names):
            raise Forbidden(f"The API key '{name}' may not use the model '{model}'.", param="model")
