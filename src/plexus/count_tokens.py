"""Token counting (`POST /v1/messages/count_tokens`): the provider's own counter when its
protocol has one (Anthropic, Gemini countTokens, OpenAI Responses input_tokens), an estimate
from the characters otherwise."""

from __future__ import annotations

from typing import Any

import msgspec

from plexus import ir
from plexus.call import Attempt, ClientRequest, ResponseWriter, decode_object, decode_request
from plexus.protocols import codec_for
from plexus.protocols.server_tools import text_of
from plexus.protocols.tool_names import with_safe_tool_names
from plexus.routing import Router, Target
from plexus.upstream.addressing import count_tokens_url, upstream_headers
from plexus.upstream.client import FullResponse, Upstream
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
    """Answer a token-counting request in the client's format: the provider's own counter when
    its protocol has one (the body forwarded to one of the client's own API, translated for
    another), an estimate otherwise."""
    target = router.resolve(request.model)[0]
    trail.append(Attempt(target.provider_name, target.model))
    provider = target.provider
    url = count_tokens_url(provider, target.model)
    if url is not None and provider.type == request.api:
        data = decode_object(request.body)
        data["model"] = target.model
        answer = await _count(upstream, target, request, url, data)
        await writer.body(answer.status, answer.body)
        return
    decoded = decode_request(request)
    payload = None
    if url is not None:
        outgoing = with_safe_tool_names(msgspec.structs.replace(decoded, model=target.model))
        payload = codec_for(provider.type).encode_count_request(outgoing)
    if payload is None or url is None:
        counted = estimate(decoded)
    else:
        answer = await _count(upstream, target, request, url, payload)
        counted = codec_for(provider.type).decode_count(answer.body)
    await writer.body(200, msgspec.json.encode({"input_tokens": counted}))


async def _count(
    upstream: Upstream, target: Target, request: ClientRequest, url: str, payload: dict[str, Any]
) -> FullResponse:
    provider = target.provider
    same_api = provider.type == request.api
    headers = await upstream_headers(
        target.provider_name, provider, False, request.headers if same_api else None
    )
    body = msgspec.json.encode(payload)
    answer = await upstream.full(url, headers, body, provider.timeouts, provider.proxy)
    if answer.status >= 400:
        raise upstream_error(
            answer.status, answer.body, answer.headers, upstream.redactor, provider.type
        )
    return answer


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
        case ir.ServerToolCallBlock() | ir.ServerToolResultBlock():
            # The provider reads its own blocks whole (encrypted content too), others as text.
            chars += len(block.payload) or len(text_of(block) or "")
    return chars, tokens
