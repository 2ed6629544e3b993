"""Legacy text completions (`POST /v1/completions`, fill-in-the-middle `suffix` included, as
code-completion clients send them): passed through, streamed or not, to providers of the
client's API that opt in with `completions: true` (many OpenAI-compatible servers serve them:
vLLM, llama.cpp, Ollama's /v1; OpenAI only for some models). Any other target is refused."""

from __future__ import annotations

from plexus.call import ClientRequest, Outcome, ResponseWriter
from plexus.errors import Unsupported
from plexus.passthrough import forward, rewrite_body
from plexus.routing import Target
from plexus.services import Services
from plexus.upstream.addressing import completions_url


def refuse(request: ClientRequest, target: Target) -> Unsupported | None:
    """Why `target` cannot do text completions, if it cannot."""
    found = _url(request, target)
    return found if isinstance(found, Unsupported) else None


async def complete(
    services: Services, request: ClientRequest, target: Target, writer: ResponseWriter
) -> Outcome:
    """Pass a text completion through to `target`."""
    found = _url(request, target)
    if isinstance(found, Unsupported):
        raise found
    body, hide_usage = rewrite_body(request, target, quirks=False)
    return await forward(services, request, target, writer, found, body, hide_usage=hide_usage)


def _url(request: ClientRequest, target: Target) -> str | Unsupported:
    """Where `target` serves text completions, or why it does not."""
    provider = target.provider
    if provider.completions and provider.type == request.api:
        url = completions_url(provider, target.model)
        if url is not None:
            return url
    return Unsupported(
        f"The model '{request.model}' cannot do text completions: provider "
        f"'{target.provider_name}' does not serve them (a provider of type {request.api} that "
        "does is marked `completions: true` in the gateway's config).",
        param="model",
    )
