"""The admin API, `/v0/admin/*` (docs/admin-api.md): config editing, usage and the request log,
target health, live events, the playground's translation view, its OpenAPI document."""

from plexus.admin.api import AdminApi
from plexus.admin.events import EventHub

__all__ = ["AdminApi", "EventHub"]
