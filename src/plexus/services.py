"""What serving a request may use besides the request itself, built once per gateway."""

from __future__ import annotations

from dataclasses import dataclass

from plexus.items import ItemStore
from plexus.ledger.responses import ResponseStore
from plexus.media import MediaFetches
from plexus.upstream.client import Upstream


@dataclass(frozen=True, slots=True)
class Services:
    """The upstream client, the image fetcher, the issued-item store and the Responses store
    (None: off) the strategies use."""

    upstream: Upstream
    media: MediaFetches
    items: ItemStore
    responses: ResponseStore | None = None
