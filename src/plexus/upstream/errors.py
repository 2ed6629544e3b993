"""An upstream's error answer as a `GatewayError`: its status and message kept, what its body
says beyond them read by the provider's codec, every configured secret masked."""

from __future__ import annotations

from collections.abc import Mapping

from plexus.errors import UpstreamError, kind_for_status
from plexus.ir import ApiType
from plexus.protocols import codec_for
from plexus.redact import Redactor


def upstream_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    redactor: Redactor,
    api: ApiType,
) -> UpstreamError:
    """The error a provider of `api` answered; a client of the same API gets its body as sent
    (details included: Gemini's RetryInfo, error reasons), any other the codec's reading."""
    report = codec_for(api).decode_error(status, body)
    message = redactor.text(report.message or f"upstream returned HTTP {status}")
    shown = report.status or status
    retry_after = headers.get("retry-after")
    if retry_after is None and report.retry_after is not None:
        retry_after = f"{report.retry_after:g}"
    error = UpstreamError(
        message, status=shown, kind=report.kind or kind_for_status(shown), retry_after=retry_after
    )
    error.relay = (api, status, redactor.bytes(body))
    return error
