"""The hooks a provider adapter may override; each defaults to passing its value through."""

from __future__ import annotations

from typing import Any

from plexus import ir


class Adapter:
    """Quirks of one provider around the generic codec of its type."""

    def prepare_request(self, request: ir.Request) -> ir.Request:
        """Adjust the IR before the provider codec encodes it."""
        return request

    def patch_body(self, body: dict[str, Any], request: ir.Request | None = None) -> dict[str, Any]:
        """Adjust the wire body before it is sent: the encoded IR (`request` set) on the
        translated path, the client's own body (`request` None) on passthrough."""
        return body

    def patch_response(self, response: ir.Response) -> ir.Response:
        """Adjust a decoded non-streamed answer."""
        return response

    def patch_event(self, event: ir.StreamEvent) -> ir.StreamEvent | None:
        """Adjust (or drop, by returning None) one decoded stream event."""
        return event


PLAIN = Adapter()
"""The adapter of a provider without quirks."""
