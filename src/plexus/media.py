"""Images given by URL, fetched and inlined for providers that cannot fetch them (Gemini)."""

from __future__ import annotations

import asyncio
import base64

from plexus import ir
from plexus.errors import BadRequest, GatewayError
from plexus.upstream.client import Upstream

MAX_IMAGE_BYTES = 20 * 1024 * 1024
FETCH_TIMEOUT = 20.0


async def inline_remote_images(upstream: Upstream, request: ir.Request) -> None:
    """Replace every http(s) image URL in `request` by its base64 data, fetched concurrently."""
    images = [block for block in _images(request) if (block.url or "").startswith("http")]
    if images:
        await asyncio.gather(*(_inline(upstream, image) for image in images))


def _images(request: ir.Request) -> list[ir.ImageBlock]:
    found: list[ir.ImageBlock] = []
    for message in request.messages:
        for block in message.content:
            if isinstance(block, ir.ImageBlock):
                found.append(block)
            elif isinstance(block, ir.ToolResultBlock):
                found.extend(part for part in block.content if isinstance(part, ir.ImageBlock))
    return found


async def _inline(upstream: Upstream, image: ir.ImageBlock) -> None:
    assert image.url is not None
    try:
        content_type, data = await upstream.fetch(image.url, MAX_IMAGE_BYTES, FETCH_TIMEOUT)
    except GatewayError as error:
        raise BadRequest(f"Could not fetch image URL for this provider: {error.message}") from error
    media_type = image.media_type or content_type
    if not media_type.startswith("image/"):
        raise BadRequest(f"Image URL {image.url} is not an image (content type {content_type})")
    image.data = base64.b64encode(data).decode()
    image.media_type = media_type
    image.url = None
