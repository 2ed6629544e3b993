"""`POST /v1/messages/count_tokens`: forwarded to Anthropic-type providers, estimated otherwise."""

from __future__ import annotations

import msgspec

from plexus import http, ir
from plexus.protocols import messages
from plexus.proxy import Call, decode_object, decode_request, read_head, upstream_error
from plexus.routing import Router
from plexus.upstream.addressing import upstream_headers
from plexus.upstream.client import Upstream

# Rough but stable: ~4 characters per token for prose and code (the tiktoken average for English).
_CHARS_PER_TOKEN = 4
_IMAGE_TOKENS = 1600  # Anthropic's estimate for a ~1.15 megapixel image
_TOOL_OVERHEAD = 300


async def count_tokens(call: Call, router: Router, upstream: Upstream) -> None:
    """Answer a count_tokens request in the Messages format."""
    read_head(call)
    target = router.resolve(call.model)[0]
    call.provider, call.upstream_model = target.provider_name, target.model
    if target.provider.type == "messages":
        data = decode_object(call.body)
        data["model"] = target.model
        url = target.provider.api_base_url.rstrip("/") + "/messages/count_tokens"
        headers = upstream_headers(target, False, call.headers)
        answer = await upstream.full(
            url, headers, msgspec.json.encode(data), target.provider.timeouts
        )
        if answer.status >= 400:
            raise upstream_error(answer.status, answer.body, answer.headers)
        call.status = answer.status
        await http.send_body(call.send, answer.status, answer.body)
        return
    request = decode_request(messages, call.body)
    call.status = 200
    await http.send_body(call.send, 200, msgspec.json.encode({"input_tokens": estimate(request)}))


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
