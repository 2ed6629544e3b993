"""Token counting (`POST /v1/messages/count_tokens`): the provider's own counter when its
protocol has one (Anthropic, Gemini countTokens, OpenAI Responses input_tokens), a count with a
real tokenizer otherwise."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from plexus import ir
from plexus.call import Attempt, ClientRequest, ResponseWriter, decode_object, decode_request
from plexus.protocols import codec_for
from plexus.protocols.server_tools import text_of
from plexus.protocols.tool_names import with_safe_tool_names
from plexus.routing import Router, Target
from plexus.tokenizer import count_text
from plexus.upstream.addressing import count_tokens_url, upstream_headers
from plexus.upstream.client import FullResponse, Upstream
from plexus.upstream.errors import upstream_error

_IMAGE_TOKENS = 1600  # Anthropic's estimate for a ~1.15 megapixel image
_TOOL_OVERHEAD = 300
# A PDF's bytes are not its text: about one token per two characters of the base64 data.
_DOCUMENT_CHARS_PER_TOKEN = 2


async def count_tokens(
    request: ClientRequest,
    router: Router,
    upstream: Upstream,
    writer: ResponseWriter,
    trail: list[Attempt],
) -> None:
    """Answer a token-counting request in the client's format: the provider's own counter when
    its protocol has one (the body forwarded to one of the client's own API, translated for
    another), a count with a real tokenizer otherwise."""
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
        # Off the event loop: a long history takes milliseconds to tokenize (and the first
        # call loads the tokenizer).
        counted = await asyncio.to_thread(estimate, decoded)
    else:
        answer = await _count(upstream, target, request, url, payload)
        counted = codec_for(provider.type).decode_count(answer.body)
    await writer.body(200, msgspec.json.encode({"input_tokens": counted}))


async def _count(
    upstream: Upstream, target: Target, request: ClientRequest, url: str, payload: dict[str, Any]
) -> FullResponse:
    provider = target.provider
    same_api = provider.type == request.api
    client_headers = request.headers if same_api else None
    headers = await upstream_headers(
        target.provider_name, provider, False, client_headers, request.trace_headers
    )
    body = msgspec.json.encode(payload)
    answer = await upstream.full(url, headers, body, provider.timeouts, provider.proxy)
    if answer.status >= 400:
        raise upstream_error(
            answer.status, answer.body, answer.headers, upstream.redactor, provider.type
        )
    return answer


def estimate(request: ir.Request) -> int:
    """The input tokens of a request: its text counted with the tokenizer (cl100k_base, as
    close to today's OpenAI and Anthropic tokenizers as an open one gets), plus fixed costs for
    message framing, images, documents and tool definitions."""
    texts = [block.text for block in request.system]
    tokens = 0
    for message in request.messages:
        tokens += 4  # role and separators
        for block in message.content:
            tokens += _add_block(block, texts)
    for tool in request.tools:
        texts += [tool.name, tool.description or ""]
        texts.append(msgspec.json.encode(tool.parameters or {}).decode())
    if request.tools:
        tokens += _TOOL_OVERHEAD
    return max(1, tokens + count_text("\n".join(texts)))


def _add_block(block: ir.Block, texts: list[str]) -> int:
    """Collect the block's text into `texts`; return the tokens it costs besides."""
    match block:
        case ir.TextBlock(text=text) | ir.RefusalBlock(text=text) | ir.ThinkingBlock(text=text):
            texts.append(text)
        case ir.ImageBlock():
            return _IMAGE_TOKENS
        case ir.DocumentBlock(text=text, data=data):
            texts.append(text or "")
            return len(data or "") * 3 // 4 // _DOCUMENT_CHARS_PER_TOKEN
        case ir.ToolCallBlock(name=name, arguments=arguments):
            texts += [name, arguments]
        case ir.ToolResultBlock(content=content):
            return sum(_add_block(part, texts) for part in content)
        case ir.ServerToolCallBlock() | ir.ServerToolResultBlock():
            # The provider reads its own blocks whole (encrypted content too), others as text.
            payload = bytes(block.payload).decode(errors="replace")
            texts.append(payload or text_of(block) or "")
    return 0
