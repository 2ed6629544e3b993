"""Gateway keys as the request path sees them: who a secret belongs to, whether it may be used
now, and which models it may call.

The `KeyRing` takes its keys from the config today; keys stored by the admin API (hashed) are a
second source it can take later through the same `KeyPolicy`.
"""

from __future__ import annotations

import datetime
import fnmatch
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


class KeyRing:
    """The keys a gateway accepts, by secret, with their policies and allowlists."""

    def __init__(self, keys: Iterable[tuple[bytes, KeyPolicy]]) -> None:
        self._secrets = list(keys)
        self.policies: dict[str, KeyPolicy] = {policy.name: policy for _, policy in self._secrets}
        self._allowlists = {
            name: Allowlist(policy.models)
            for name, policy in self.policies.items()
            if policy.models is not None
        }

    @classmethod
    def from_config(cls, keys: Mapping[str, KeyConfig]) -> KeyRing:
        """The keys of the YAML (those with a secret)."""
        return cls(
            (key.secret.encode(), KeyPolicy.from_config(name, key))
            for name, key in keys.items()
            if key.secret
        )

    @property
    def empty(self) -> bool:
        """Whether no key is configured (the API is open)."""
        return not self._secrets

    def match(self, presented: str) -> KeyPolicy | None:
        """The policy whose secret is `presented`; every secret is compared so that timing
        does not reveal which one matched."""
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
