"""The app's one entry to keys and limits, built per config (rebuilt on reload) around a
Limiter that outlives reloads: who a secret is, what it may call, what it may still use."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable
from typing import Any

import msgspec

from plexus import ir
from plexus.call import ClientRequest
from plexus.config import Config, LimitsConfig
from plexus.errors import ProviderUnavailable, RateLimited
from plexus.limits.keys import KeyPolicy, KeyRing
from plexus.limits.limiter import Estimate, Limiter, Ticket
from plexus.limits.periods import span_of
from plexus.limits.rules import Rule, rules_for
from plexus.pricing import PriceBook
from plexus.routing import ModelEntry, Router

BYTES_PER_TOKEN = 4  # the input estimate: a body's bytes / 4, corrected when the answer ends
DEFAULT_OUTPUT = 4096  # the output estimate of a request that sets no maximum
_NOTHING = Estimate()


class Gate:
    """Keys, allowlists and the limits of keys, aliases and providers, for one config."""

    def __init__(self, config: Config, limiter: Limiter, keyring: KeyRing, share: int) -> None:
        self.limiter = limiter
        self.keyring = keyring
        window = limiter.window
        self._keys = {
            name: rules_for(
                "key",
                name,
                rpm=policy.rpm,
                tpm=policy.tpm,
                max_parallel=policy.max_parallel,
                budget=policy.budget,
                window=window,
                share=share,
            )
            for name, policy in keyring.policies.items()
            if policy.limited
        }
        self._watched = set(self._keys) | {
            name for name, policy in keyring.policies.items() if policy.models is not None
        }
        self._aliases = {
            name: _limit_rules("alias", name, alias.limits, window, share)
            for name, alias in config.models.items()
            if alias.limits is not None
        }
        self._providers = {
            name: _limit_rules("provider", name, p.limits, window, share)
            for name, p in config.providers.items()
            if p.limits is not None
        }

    def watches(self, request: ClientRequest) -> bool:
        """Whether the request's key or model has an allowlist or limits (else the Limiter is
        skipped entirely)."""
        return request.key in self._watched or request.model in self._aliases

    @property
    def limits_providers(self) -> bool:
        """Whether any provider has limits (the proxy then asks before each attempt)."""
        return bool(self._providers)

    def policy(self, key: str) -> KeyPolicy | None:
        """The policy of a key by name."""
        return self.keyring.policies.get(key)

    async def admit(
        self, request: ClientRequest, router: Router, prices: PriceBook, output: bool = True
    ) -> Ticket | None:
        """Check the key's allowlist and take from the key's and the alias's counters; None
        when neither is limited (nothing to settle). `output`: whether the request makes
        output tokens (embeddings do not)."""
        key = request.key
        if self.keyring.allowlist(key) is not None:
            self.keyring.check_model(key, request.model, _provider_name(router, request.model))
        key_rules = self._keys.get(key, ())
        alias_rules = self._aliases.get(request.model, ())
        if not key_rules and not alias_rules:
            return None
        estimate = _estimate(request, router, prices, (*key_rules, *alias_rules), output)
        return await self.limiter.admit((*key_rules, *alias_rules), estimate)

    def headers(self, key: str) -> list[tuple[bytes, bytes]]:
        """The `x-ratelimit-*` headers of a limited key's answers."""
        rules = self._keys.get(key)
        return self.limiter.headers(rules) if rules else []

    async def admit_provider(
        self, request: ClientRequest, provider: str, output: bool = True
    ) -> Ticket | None:
        """Take from a provider's counters before an attempt; a provider at its limit is
        unavailable (the next target is tried, this one rests until its window turns)."""
        rules = self._providers.get(provider)
        if not rules:
            return None
        estimate = Estimate(tokens=sum(_tokens(request, output)))
        try:
            return await self.limiter.admit(rules, estimate)
        except RateLimited as refusal:
            raise ProviderUnavailable(
                refusal.message, status=429, kind="rate_limit", retry_after=refusal.retry_after
            ) from refusal

    def models(self, key: str, entries: list[ModelEntry]) -> list[ModelEntry]:
        """The model list as the key sees it: only what its allowlist allows."""
        allowlist = self.keyring.allowlist(key)
        if allowlist is None:
            return entries
        return [e for e in entries if allowlist.allows(e.id, f"{e.owned_by}/{e.id}")]

    async def restore(self, spend: dict[str, list[tuple[int, float]]]) -> None:
        """Seed the keys' budgets with their spend this period (hourly sums by key)."""
        now = self.limiter.now()
        for name, rules in self._keys.items():
            for rule in rules:
                if rule.budget is None:
                    continue
                start = self.limiter.span(rule.budget.period, now).start
                spent = sum(usd for hour, usd in spend.get(name, ()) if hour >= start)
                share = rule.limit / rule.configured if rule.configured else 1.0
                await self.limiter.restore(rule, spent * share)

    def budget_starts(self) -> float | None:
        """The earliest start of a budget period in force (what to read spend since)."""
        now = self.limiter.now()
        starts = [
            self.limiter.span(rule.budget.period, now).start
            for rules in self._keys.values()
            for rule in rules
            if rule.budget is not None
        ]
        return min(starts) if starts else None

    def view(self, key: str) -> bytes:
        """`GET /v0/self`: the key's name, limits, what it used, its budget and expiry."""
        policy = self.policy(key)
        now = self.limiter.now()
        body: dict[str, Any] = {"name": key, "models": None, "expires": None, "limits": {}}
        if policy is not None:
            body["models"] = list(policy.models) if policy.models is not None else None
            if policy.expires is not None:
                body["expires"] = _iso(policy.expires)
        _, left = self.limiter.window_of(now)
        for rule in self._keys.get(key, ()):
            used = self.limiter.used(rule, now)
            body["limits"][_NAMES[rule.unit]] = _usage_view(rule, used, left, now)
        return msgspec.json.encode(body)


_NAMES = {"requests": "rpm", "tokens": "tpm", "parallel": "max_parallel", "usd": "budget"}


def _usage_view(rule: Rule, used: float, left: float, now: float) -> dict[str, Any]:
    if rule.budget is not None:
        span = span_of(rule.budget.period, now)
        return {
            "usd": rule.configured,
            "period": rule.budget.period,
            "spent_usd": round(used, 6),
            "remaining_usd": round(max(0.0, rule.limit - used), 6),
            "resets_at": _iso(span.end) if span.end is not None else None,
        }
    view: dict[str, Any] = {
        "limit": int(rule.configured),
        "used": int(used) if rule.unit != "tokens" else math.ceil(used),
        "remaining": max(0, math.floor(rule.limit - used)),
    }
    if rule.unit != "parallel":
        view["resets_in_seconds"] = round(left, 3)
    return view


def _iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).isoformat()


def _limit_rules(
    scope: str, name: str, limits: LimitsConfig, window: float, share: int
) -> tuple[Rule, ...]:
    return rules_for(
        scope, name, rpm=limits.rpm, tpm=limits.tpm, max_parallel=limits.max_parallel,
        window=window, share=share,
    )  # fmt: skip


def _provider_name(router: Router, model: str) -> str | None:
    """`provider/model` for a model listed under a provider (the allowlist may name either)."""
    try:
        targets = router.resolve(model)
    except Exception:  # an unknown model: the attempt loop answers 404 in its own words
        return None
    if len(targets) == 1 and "/" not in model:
        return f"{targets[0].provider_name}/{targets[0].model}"
    return None


def _tokens(request: ClientRequest, output: bool) -> tuple[int, int]:
    """The input and output tokens a request may use, as guessed from its body."""
    most = 0
    if output:
        most = request.codec.max_output_tokens_of(request.body) or DEFAULT_OUTPUT
    return len(request.body) // BYTES_PER_TOKEN, most


def _estimate(
    request: ClientRequest,
    router: Router,
    prices: PriceBook,
    rules: Iterable[Rule],
    output: bool,
) -> Estimate:
    """Tokens: the body's size in tokens plus the most output allowed; USD: that at the
    dearest target the model may go to (only when a budget is counted)."""
    units = {rule.unit for rule in rules}
    if "tokens" not in units and "usd" not in units:
        return _NOTHING  # requests and parallel slots count one each: no body to read
    input_tokens, output_tokens = _tokens(request, output)
    tokens = input_tokens + output_tokens
    if "usd" not in units:
        return Estimate(tokens)
    usage = ir.Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    usd = 0.0
    try:
        targets = router.resolve(request.model)
    except Exception:
        targets = []
    for target in targets:
        price = prices.price_for(target.provider_name, target.model)
        if price is not None:
            usd = max(usd, price.cost(usage).usd or 0.0)
    return Estimate(tokens, usd)
