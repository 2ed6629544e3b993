"""Images given by URL, fetched and inlined for providers that cannot fetch them (Gemini).

One request may name many images, so what one request can make the gateway do is bounded:
how many images, how many fetches at once (per request and for the whole process), and how
many bytes in all; a URL named twice is fetched once (issue 10).
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass

from plexus import ir
from plexus.errors import BadRequest, GatewayError
from plexus.upstream.client import Upstream
from plexus.upstream.fetch import fetch


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What inlining the images of one request may cost."""

    max_images: int = 64
    max_bytes: int = 20 * 1024 * 1024  # in all: Gemini takes at most 20 MB of inline data
    per_request: int = 4  # fetches at once for one request
    timeout: float = 20.0


class MediaFetches:
    """Inlines image URLs within `MediaLimits`, at most `total` fetches at once in the process."""

    def __init__(self, upstream: Upstream, limits: MediaLimits, total: int = 16) -> None:
        self.upstream = upstream
        self.limits = limits
        self._slots = asyncio.Semaphore(max(1, total))

    async def inline(self, request: ir.Request) -> None:
        """Replace every http(s) image URL in `request` by its base64 data."""
        images = [block for block in _images(request) if (block.url or "").startswith("http")]
        if not images:
            return
        limits = self.limits
        if len(images) > limits.max_images:
            raise BadRequest(
                f"{len(images)} image URLs: at most {limits.max_images} are fetched for this "
                "provider; send the others inline"
            )
        fetched = await self._fetch_all(list(dict.fromkeys(block.url or "" for block in images)))
        for block in images:
            content_type, data = fetched[block.url or ""]
            _inline(block, content_type, data)

    async def _fetch_all(self, urls: list[str]) -> dict[str, tuple[str, str]]:
        per_request = asyncio.Semaphore(max(1, self.limits.per_request))
        fetched: dict[str, tuple[str, str]] = {}
        budget = [self.limits.max_bytes]

        async def fetch_one(url: str) -> None:
            async with per_request, self._slots:
                if budget[0] <= 0:
                    raise BadRequest(self._too_large())
                try:
                    content_type, data = await fetch(
                        self.upstream, url, budget[0], self.limits.timeout
                    )
                except GatewayError as error:
                    raise BadRequest(
                        f"Could not fetch image URL for this provider: {error.message}"
                    ) from error
            budget[0] -= len(data)
            if budget[0] < 0:
                raise BadRequest(self._too_large())
            fetched[url] = (content_type, base64.b64encode(data).decode())

        try:
            async with asyncio.TaskGroup() as group:  # the first failure cancels the rest
                for url in urls:
                    group.create_task(fetch_one(url))
        except* GatewayError as errors:
            raise errors.exceptions[0] from None
        return fetched

    def _too_large(self) -> str:
        return f"the images add up to more than {self.limits.max_bytes} bytes for this provider"


def _images(request: ir.Request) -> list[ir.ImageBlock]:
    found: list[ir.ImageBlock] = []
    for message in request.messages:
        for block in message.content:
            if isinstance(block, ir.ImageBlock):
                found.append(block)
            elif isinstance(block, ir.ToolResultBlock):
                found.extend(part for part in block.content if isinstance(part, ir.ImageBlock))
    return found


def _inline(image: ir.ImageBlock, content_type: str, data: str) -> None:
    media_type = image.media_type or content_type
    if not media_type.startswith("image/"):
        raise BadRequest(f"Image URL {image.url} is not an image (content type {content_type})")
    image.data = data
    image.media_type = media_type
    image.url = None
