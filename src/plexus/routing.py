"""Model resolution: alias, `provider/model`, or a model listed under a provider (design.md 3)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from plexus.config import AliasConfig, Config, ProviderConfig
from plexus.errors import NotFound
from plexus.health import Health


@dataclass(frozen=True, slots=True)
class Target:
    """A provider and the provider's own model slug to call it with."""

    provider_name: str
    provider: ProviderConfig
    model: str

    @property
    def key(self) -> tuple[str, str]:
        """Identity of the target for health tracking."""
        return (self.provider_name, self.model)


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """A name `GET /v1/models` lists, with who owns it."""

    id: str
    owned_by: str


class Router:
    """Resolves a requested model name to the targets that may serve it, in trial order."""

    def __init__(
        self, config: Config, rng: random.Random | None = None, health: Health | None = None
    ) -> None:
        self._config = config
        self._rng = rng or random.Random()
        self.health = health or Health()
        self._aliases: dict[str, list[Target]] = {
            name: [Target(t.provider, config.providers[t.provider], t.model) for t in alias.targets]
            for name, alias in config.models.items()
        }
        self._listed: dict[str, Target] = {}
        for provider_name, provider in config.providers.items():
            for model in provider.models:
                self._listed.setdefault(model, Target(provider_name, provider, model))

    def resolve(self, name: str) -> list[Target]:
        """Return the candidate targets for `name`, the chosen one first; raise NotFound.
        `provider/model` reaches the models `server.direct_models` allows (issue 10: with
        `any`, every gateway key could call every provider with any model slug)."""
        targets = self._aliases.get(name)
        if targets is not None:
            return self._order(self._config.models[name], targets)
        provider_name, slash, model = name.partition("/")
        direct = self._config.server.direct_models
        if slash and model and direct != "none":
            provider = self._config.providers.get(provider_name)
            if provider is not None and (direct == "any" or model in provider.models):
                return [Target(provider_name, provider, model)]
        listed = self._listed.get(name)
        if listed is not None:
            return [listed]
        raise NotFound(f"The model '{name}' does not exist or is not configured.", param="model")

    def _order(self, alias: AliasConfig, targets: list[Target]) -> list[Target]:
        """Order by the alias's selector, then move cooling targets to the back, the least
        recently failed of them first, so a request is refused only when every target failed."""
        if len(targets) == 1:
            return list(targets)
        ordered = self._select(alias, targets)
        health = self.health
        ready = [t for t in ordered if not health.cooling(t.key)]
        if len(ready) == len(ordered):
            return ordered
        cooling = sorted(
            (t for t in ordered if health.cooling(t.key)), key=lambda t: health.last_failure(t.key)
        )
        return ready + cooling

    def _select(self, alias: AliasConfig, targets: list[Target]) -> list[Target]:
        match alias.selector:
            case "in_order":
                return list(targets)
            case "weighted":
                weights = [t.weight for t in alias.targets]
                first = self._rng.choices(range(len(targets)), weights=weights)[0]
            case "latency":
                first = self.health.pick_fastest([t.key for t in targets], self._rng)
            case _:
                shuffled = list(targets)
                self._rng.shuffle(shuffled)
                return shuffled
        return [targets[first], *targets[:first], *targets[first + 1 :]]

    def targets(self) -> list[Target]:
        """Every alias target, each once (for health and metrics)."""
        seen: dict[tuple[str, str], Target] = {}
        for targets in self._aliases.values():
            for target in targets:
                seen.setdefault(target.key, target)
        return list(seen.values())

    def models(self) -> list[ModelEntry]:
        """Every name a client can ask for: aliases, then models listed under providers."""
        entries = [ModelEntry(name, "plexus") for name in self._aliases]
        seen = set(self._aliases)
        for model, target in self._listed.items():
            if model not in seen:
                entries.append(ModelEntry(model, target.provider_name))
        for provider_name, provider in self._config.providers.items():
            entries.extend(
                ModelEntry(f"{provider_name}/{m}", provider_name) for m in provider.models
            )
        return entries
