"""What serving a request may use besides the request itself, built once per gateway."""

from __future__ import annotations

from dataclasses import dataclass

from plexus.items import ItemStore
from plexus.media import MediaFetches
from plexus.upstream.client import Upstream


@dataclass(frozen=True, slots=True)
class Services:
    """The upstream client, the image fetcher and the issued-item store the strategies use."""

    upstream: Upstream
    media: MediaFetches
    items: ItemStore
