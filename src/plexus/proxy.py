"""The attempt loop: resolve the model, try its targets in turn with the strategy of the
request's kind (generation, embeddings, text completions), and report what was tried."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from plexus import completions, conversations, embeddings
from plexus.call import Attempt, ClientRequest, Outcome, ResponseWriter
from plexus.config import ProviderConfig
from plexus.errors import (
    GatewayError,
    ProviderUnavailable,
    Unsupported,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from plexus.limits.limiter import Ticket
from plexus.limits.spend import usage_tokens
from plexus.passthrough import RETRYABLE_STATUS, passthrough
from plexus.routing import Router, Target
from plexus.services import Services
from plexus.translate import translate

Serve = Callable[[Services, ClientRequest, Target, ResponseWriter], Awaitable[Outcome]]
Refuse = Callable[[ClientRequest, Target], Unsupported | None]
# Takes from a provider's limits before an attempt (raises ProviderUnavailable when used up).
AdmitProvider = Callable[[ClientRequest, str, bool], Awaitable[Ticket | None]]


def _serves_all(request: ClientRequest, target: Target) -> Unsupported | None:
    return None


@dataclass(frozen=True, slots=True)
class Strategy:
    """How one kind of request is served from a target, and which targets cannot serve it
    (checked before a concurrency slot is taken)."""

    serve: Serve
    refuse: Refuse = _serves_all
    output: bool = True  # whether it makes output tokens (what the limits estimate)


async def generate(
    services: Services, request: ClientRequest, target: Target, writer: ResponseWriter
) -> Outcome:
    """Serve a generation: passed through to a provider of the client's API, translated
    for any other (or for one that opts out of passthrough, or when the request continues an
    answer the gateway keeps)."""
    provider = target.provider
    same_api = provider.type == request.api and provider.passthrough
    same_api = same_api and conversations.passes_through(request)
    strategy = passthrough if same_api else translate
    return await strategy(services, request, target, writer)


GENERATE = Strategy(generate)
EMBED = Strategy(embeddings.embed, embeddings.refuse, output=False)
COMPLETE = Strategy(completions.complete, completions.refuse)


class Proxy:
    """Serves requests through the router and the upstream pool."""

    def __init__(
        self,
        router: Router,
        services: Services,
        slots: Slots,
        max_attempts: int = 3,
        admit_provider: AdmitProvider | None = None,
    ) -> None:
        self.admit_provider = admit_provider
        self.router = router
        self.services = services
        self.slots = slots
        self.max_attempts = max(1, max_attempts)

    async def handle(
        self,
        request: ClientRequest,
        writer: ResponseWriter,
        trail: list[Attempt],
        strategy: Strategy = GENERATE,
    ) -> Outcome:
        """Answer `request` with `strategy`, appending each target tried to `trail`; raise
        GatewayError when nothing was sent to the client yet.

        Targets are tried in the router's order while failures happen before the answer
        started and are worth retrying elsewhere (protocols.md 6.18; issue 4), up to
        `max_attempts` of them; a target that cannot serve this kind of request is skipped
        without counting as an attempt or cooling down (issue 11)."""
        health = self.router.health
        errors: list[GatewayError] = []
        refusals: list[Unsupported] = []
        for target in self.router.resolve(request.model):
            if len(errors) >= self.max_attempts:
                break
            attempt = Attempt(target.provider_name, target.model)
            trail.append(attempt)
            begun = time.perf_counter()
            if request.trace is not None:
                request.trace.begin_attempt(len(trail), begun)
            try:
                outcome = await self._serve(strategy, request, target, writer)
            except Unsupported as refusal:
                attempt.error, attempt.status = refusal.message, refusal.status
                if request.trace is not None:
                    request.trace.drop_attempt()  # refused here: no upstream call, no span
                if writer.started:
                    raise
                refusals.append(refusal)
                continue
            except GatewayError as error:
                attempt.error, attempt.status = error.detail or error.message, error.status
                if writer.started or not retryable(error):
                    raise
                health.failed(target.key, seconds(error.retry_after))
                errors.append(error)
                continue
            finally:
                attempt.duration_ms = round((time.perf_counter() - begun) * 1000, 2)
            attempt.status = writer.status
            first_byte = writer.first_byte
            health.succeeded(
                target.key, None if first_byte is None else first_byte - request.started
            )
            return outcome
        raise most_useful(errors) if errors else refusals[0]

    async def _serve(
        self, strategy: Strategy, request: ClientRequest, target: Target, writer: ResponseWriter
    ) -> Outcome:
        refusal = strategy.refuse(request, target)
        if refusal is not None:
            raise refusal
        if self.admit_provider is None:
            return await self._serve_target(strategy, request, target, writer)
        ticket = await self.admit_provider(request, target.provider_name, strategy.output)
        if ticket is None:
            return await self._serve_target(strategy, request, target, writer)
        try:
            outcome = await self._serve_target(strategy, request, target, writer)
        except BaseException:
            ticket.release()
            raise
        ticket.settle(usage_tokens(outcome.usage), None)
        return outcome

    async def _serve_target(
        self, strategy: Strategy, request: ClientRequest, target: Target, writer: ResponseWriter
    ) -> Outcome:
        provider = target.provider
        if provider.max_concurrency is None:
            return await strategy.serve(self.services, request, target, writer)
        semaphore = self.slots.semaphore(target.provider_name, provider.max_concurrency)
        await _acquire(semaphore, provider, target.provider_name)
        try:
            return await strategy.serve(self.services, request, target, writer)
        finally:
            semaphore.release()


class Slots:
    """Per-provider concurrency limits; lives as long as the gateway, so requests in flight
    keep their slots across a config reload (a changed limit takes a new semaphore)."""

    def __init__(self) -> None:
        self._semaphores: dict[str, tuple[int, asyncio.Semaphore]] = {}

    def semaphore(self, provider: str, limit: int) -> asyncio.Semaphore:
        """The semaphore of `provider` at `limit`."""
        known = self._semaphores.get(provider)
        if known is not None and known[0] == limit:
            return known[1]
        semaphore = asyncio.Semaphore(max(1, limit))
        self._semaphores[provider] = (limit, semaphore)
        return semaphore


async def _acquire(semaphore: asyncio.Semaphore, provider: ProviderConfig, name: str) -> None:
    if not semaphore.locked():
        await semaphore.acquire()
        return
    try:
        async with asyncio.timeout(provider.queue_timeout if provider.queue_timeout > 0 else 0):
            await semaphore.acquire()
    except TimeoutError as error:
        raise ProviderUnavailable(
            f"provider '{name}' is at its concurrency limit", status=429, kind="rate_limit"
        ) from error


def retryable(error: GatewayError) -> bool:
    """Whether another target may succeed where this one failed."""
    if isinstance(error, UpstreamUnreachable | UpstreamTimeout | ProviderUnavailable):
        return True
    return isinstance(error, UpstreamError) and error.status in RETRYABLE_STATUS


def most_useful(errors: list[GatewayError]) -> GatewayError:
    """The error to show when every target failed: an upstream's own answer beats ours."""
    for error in errors:
        if isinstance(error, UpstreamError) and error.status not in (500, 502, 503):
            return error
    return errors[0]


def seconds(value: str | None) -> float | None:
    """A `retry-after` value in seconds, if it is a number."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
