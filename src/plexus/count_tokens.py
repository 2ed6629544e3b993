"""Token counting (`POST /v1/messages/count_tokens`): forwarded to a provider of the client's
API that counts tokens itself, estimated for the others."""

from __future__ import annotations

import msgspec

from plexus import ir
from plexus.call import Attempt, ClientRequest, ResponseWriter, decode_object, decode_request
from plexus.routing import Router
from plexus.upstream.addressing import count_tokens_url, upstream_headers
from plexus.upstream.client import Upstream
from plexus.upstream.errors import upstream_error

# Rough but stable: ~4 characters per token for prose and code (the tiktoken average for English).
_CHARS_PER_TOKEN = 4
_IMAGE_TOKENS = 1600  # Anthropic's estimate for a ~1.15 megapixel image
_TOOL_OVERHEAD = 300


async def count_tokens(
    request: ClientRequest,
    router: Router,
    upstream: Upstream,
    writer: ResponseWriter,
    trail: list[Attempt],
) -> None:
    """Answer a token-counting request in the client's format."""
    target = router.resolve(request.model)[0]
    trail.append(Attempt(target.provider_name, target.model))
    provider = target.provider
    url = count_tokens_url(provider) if provider.type == request.api else None
    if url is not None:
        data = decode_object(request.body)
        data["model"] = target.model
        headers = await upstream_headers(target.provider_name, provider, False, request.headers)
        body = msgspec.json.encode(data)
        answer = await upstream.full(url, headers, body, provider.timeouts, provider.proxy)
        if answer.status >= 400:
            raise upstream_error(
                answer.status, answer.body, answer.headers, upstream.redactor, provider.type
            )
        await writer.body(answer.status, answer.body)
        return
    counted = estimate(decode_request(request))
    await writer.body(200, msgspec.json.encode({"input_tokens": counted}))


def estimate(request: ir.Request) -> int:
    """Estimate the input tokens of a request from its characters."""
    chars = sum(len(block.text) for block in request.system)
    tokens = 0
    for message in request.messages:
        tokens += 4  # role and separators
        for block in message.content:
            chars, tokens = _add_block(block, chars, tokens)
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description or "")
        chars += len(msgspec.json.encode(tool.parameters or {}))
    if request.tools:
        tokens += _TOOL_OVERHEAD
    return max(1, tokens + (chars + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN)


def _add_block(block: ir.Block, chars: int, tokens: int) -> tuple[int, int]:
    match block:
        case ir.TextBlock(text=text) | ir.RefusalBlock(text=text):
            chars += len(text)
        case ir.ThinkingBlock(text=text):
            chars += len(text)
        case ir.ImageBlock():
            tokens += _IMAGE_TOKENS
        case ir.DocumentBlock(text=text, data=data):
            chars += len(text or "") + len(data or "") * 3 // 4 // 2
        case ir.ToolCallBlock(name=name, arguments=arguments):
            chars += len(name) + len(arguments)
        case ir.ToolResultBlock(content=content):
            for part in content:
                chars, tokens = _add_block(part, chars, tokens)
    return chars, tokens
