"""What serving a request may use besides the request itself, built once per gateway."""

from __future__ import annotations

from dataclasses import dataclass

from plexus.media import MediaFetches
from plexus.upstream.client import Upstream


@dataclass(frozen=True, slots=True)
class Services:
    """The upstream client and the image fetcher the strategies call."""

    upstream: Upstream
    media: MediaFetches
