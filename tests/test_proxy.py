"""The attempt loop: which targets are tried, when it stops, what the client sees, what is kept."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from plexus import proxy
from plexus.call import Attempt, ClientRequest, Outcome, ResponseWriter
from plexus.config import parse_config
from plexus.errors import (
    BadRequest,
    GatewayError,
    ProviderUnavailable,
    Unsupported,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from plexus.health import Health
from plexus.items import ItemStore
from plexus.media import MediaFetches, MediaLimits
from plexus.protocols import codec_for
from plexus.routing import Router, Target
from plexus.services import Services
from plexus.upstream.client import Upstream

CONFIG = {
    "providers": {
        "a": {"type": "chat", "api_base_url": "http://a/v1"},
        "b": {"type": "messages", "api_base_url": "http://b/v1"},
        "c": {"type": "chat", "api_base_url": "http://c/v1", "passthrough": False},
    },
    "models": {
        "chain": {
            "selector": "in_order",
            "targets": [
                {"provider": "a", "model": "a-1"},
                {"provider": "b", "model": "b-1"},
                {"provider": "c", "model": "c-1"},
            ],
        }
    },
}

Behaviour = Callable[[Target, ResponseWriter], Awaitable[Outcome]]


class Strategies:
    """Stands in for passthrough and translate: each target behaves as the test says."""

    def __init__(self, behaviours: dict[str, Behaviour]) -> None:
        self.behaviours = behaviours
        self.calls: list[tuple[str, str]] = []  # (strategy, provider)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(proxy, "passthrough", self._strategy("passthrough"))
        monkeypatch.setattr(proxy, "translate", self._strategy("translate"))

    def _strategy(self, name: str) -> Any:
        async def serve(
            services: Services, request: ClientRequest, target: Target, writer: ResponseWriter
        ) -> Outcome:
            self.calls.append((name, target.provider_name))
            return await self.behaviours[target.provider_name](target, writer)

        return serve


def fails(error: GatewayError) -> Behaviour:
    async def behave(target: Target, writer: ResponseWriter) -> Outcome:
        raise error

    return behave


def answers(target: Target, writer: ResponseWriter) -> Awaitable[Outcome]:
    async def behave() -> Outcome:
        await writer.body(200, b"{}")
        return Outcome()

    return behave()


def fails_after_starting(target: Target, writer: ResponseWriter) -> Awaitable[Outcome]:
    async def behave() -> Outcome:
        await writer.start_stream()
        raise UpstreamUnreachable("broke mid-stream")

    return behave()


async def _ignore(message: Any) -> None:
    return None


def _request(model: str = "chain") -> ClientRequest:
    return ClientRequest("chat", codec_for("chat"), {}, b"{}", model, False, 0.0)


async def _handle(
    behaviours: dict[str, Behaviour],
    monkeypatch: pytest.MonkeyPatch,
    max_attempts: int = 3,
    strategy: proxy.Strategy = proxy.GENERATE,
) -> tuple[Strategies, list[Attempt], Outcome | GatewayError, Health]:
    strategies = Strategies(behaviours)
    strategies.install(monkeypatch)
    health = Health()
    router = Router(parse_config(CONFIG), random.Random(1), health)
    upstream = Upstream()
    services = Services(upstream, MediaFetches(upstream, MediaLimits()), ItemStore())
    gateway_proxy = proxy.Proxy(router, services, proxy.Slots(), max_attempts)
    trail: list[Attempt] = []
    try:
        result: Outcome | GatewayError = await gateway_proxy.handle(
            _request(), ResponseWriter(_ignore), trail, strategy
        )
    except GatewayError as error:
        result = error
    return strategies, trail, result, health


async def test_same_api_passes_through_and_others_translate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unreachable = fails(UpstreamUnreachable("down"))
    strategies, trail, result, _ = await _handle(
        {"a": unreachable, "b": unreachable, "c": answers}, monkeypatch
    )
    assert isinstance(result, Outcome)
    # c speaks the client's API but opts out of passthrough.
    assert strategies.calls == [("passthrough", "a"), ("translate", "b"), ("translate", "c")]
    assert [(a.provider, a.model, a.error) for a in trail] == [
        ("a", "a-1", "down"),
        ("b", "b-1", "down"),
        ("c", "c-1", None),
    ]


@pytest.mark.parametrize(
    "error",
    [
        UpstreamUnreachable("x"),
        UpstreamTimeout("x"),
        ProviderUnavailable("x", status=429),
        UpstreamError("x", status=429),
        UpstreamError("x", status=529),
        UpstreamError("x", status=503),
    ],
)
async def test_retryable_failures_move_on_and_cool_the_target(
    error: GatewayError, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, trail, result, health = await _handle(
        {"a": fails(error), "b": answers, "c": answers}, monkeypatch
    )
    assert isinstance(result, Outcome) and len(trail) == 2
    assert health.cooling(("a", "a-1")) and not health.cooling(("b", "b-1"))


@pytest.mark.parametrize(
    "error", [BadRequest("bad"), UpstreamError("x", status=400), UpstreamError("x", status=401)]
)
async def test_a_client_error_is_final(
    error: GatewayError, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, trail, result, health = await _handle(
        {"a": fails(error), "b": answers, "c": answers}, monkeypatch
    )
    assert result is error and len(trail) == 1
    assert not health.cooling(("a", "a-1"))


async def test_nothing_is_retried_once_the_answer_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, trail, result, _ = await _handle(
        {"a": fails_after_starting, "b": answers, "c": answers}, monkeypatch
    )
    assert isinstance(result, UpstreamUnreachable) and len(trail) == 1


async def test_the_upstreams_own_answer_beats_a_gateway_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limited = UpstreamError("slow down", status=429)
    _, trail, result, _ = await _handle(
        {
            "a": fails(UpstreamUnreachable("down")),
            "b": fails(limited),
            "c": fails(UpstreamError("x", status=500)),
        },
        monkeypatch,
    )
    assert result is limited and len(trail) == 3


async def test_max_attempts_caps_the_targets_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    down = fails(UpstreamUnreachable("down"))
    _, trail, result, _ = await _handle({"a": down, "b": down, "c": answers}, monkeypatch, 2)
    assert isinstance(result, UpstreamUnreachable) and [a.provider for a in trail] == ["a", "b"]


def refusing(*providers: str) -> proxy.Strategy:
    """Generation, except that `providers` cannot serve the request's kind."""

    def refuse(request: ClientRequest, target: Target) -> Unsupported | None:
        if target.provider_name in providers:
            return Unsupported(f"{target.provider_name} cannot")
        return None

    return proxy.Strategy(proxy.generate, refuse)


async def test_targets_that_cannot_serve_the_kind_are_skipped_for_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue 11: an alias may mix providers with and without embeddings; a target without them
    # is no failure, is never called, and leaves max_attempts to the others.
    strategies, trail, result, health = await _handle(
        {"c": answers}, monkeypatch, max_attempts=1, strategy=refusing("a", "b")
    )
    assert isinstance(result, Outcome)
    assert strategies.calls == [("translate", "c")]
    assert [(a.provider, a.error) for a in trail] == [
        ("a", "a cannot"),
        ("b", "b cannot"),
        ("c", None),
    ]
    assert not health.cooling(("a", "a-1"))


async def test_when_no_target_can_serve_the_kind_the_first_refusal_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, result, _ = await _handle({}, monkeypatch, strategy=refusing("a", "b", "c"))
    assert isinstance(result, Unsupported) and result.message == "a cannot"
    assert result.status == 400


async def test_a_real_failure_beats_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    down = UpstreamUnreachable("down")
    _, _, result, _ = await _handle({"b": fails(down)}, monkeypatch, strategy=refusing("a", "c"))
    assert result is down


async def test_slots_outlive_a_reload_and_follow_a_changed_limit() -> None:
    slots = proxy.Slots()
    first = slots.semaphore("p", 2)
    await first.acquire()
    assert slots.semaphore("p", 2) is first  # a rebuilt Proxy (reload) finds the same slots
    changed = slots.semaphore("p", 5)
    assert changed is not first and not changed.locked()
    first.release()


async def test_a_full_provider_fails_fast_then_queues_up_to_its_timeout() -> None:
    config = parse_config(
        {"providers": {"p": {"type": "chat", "api_base_url": "http://p", "queue_timeout": 0.05}}}
    )
    semaphore = asyncio.Semaphore(1)
    await semaphore.acquire()
    with pytest.raises(ProviderUnavailable) as caught:
        await proxy._acquire(semaphore, config.providers["p"], "p")
    assert caught.value.status == 429
    asyncio.get_running_loop().call_later(0.01, semaphore.release)
    await proxy._acquire(semaphore, config.providers["p"], "p")
