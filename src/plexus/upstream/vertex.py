"""Google Vertex AI behind the gemini type (protocols.md 4.1): the regional URL built from
project and location, and OAuth access tokens from a service account or application-default
credentials through `google-auth`.

A token is fetched in a worker thread on first use in a process (never on the event loop), then
refreshed in a background thread ahead of its expiry, so requests never wait on Google's token
endpoint after the first.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from plexus.errors import ProviderUnavailable

if TYPE_CHECKING:
    from plexus.config import VertexConfig

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
REFRESH_AHEAD = 300.0  # seconds before expiry a background refresh starts


def model_path(vertex: VertexConfig, model: str) -> str:
    """Return the path of a publisher model under the API base, without the method."""
    name = quote(model.removeprefix("models/"), safe="")
    return (
        f"/projects/{quote(vertex.project, safe='')}/locations/{quote(vertex.location, safe='')}"
        f"/publishers/google/models/{name}"
    )


def _in_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="vertex-token-refresh", daemon=True).start()


class TokenSource:
    """Hands out the access token of one google-auth credentials object, refreshing it;
    `spawn` runs the refresh-ahead work (in a daemon thread by default)."""

    def __init__(
        self,
        credentials: Any,
        make_request: Callable[[], Any],
        spawn: Callable[[Callable[[], None]], None] = _in_thread,
    ) -> None:
        self._credentials = credentials
        self._make_request = make_request
        self._spawn = spawn
        self._lock = threading.Lock()
        self._refreshing = False

    def token(self) -> str:
        """Return a token valid now; refresh it first (blocking) if there is none or it expired."""
        with self._lock:
            if not self._credentials.token or self._seconds_left() <= 0:
                self._refresh()
            return self._hand_out()

    def cached(self) -> str | None:
        """Return a token valid now without blocking, or None when one must be fetched first
        (or another thread is fetching it)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if not self._credentials.token or self._seconds_left() <= 0:
                return None
            return self._hand_out()
        finally:
            self._lock.release()

    def _hand_out(self) -> str:
        if self._seconds_left() < REFRESH_AHEAD and not self._refreshing:
            self._refreshing = True
            self._spawn(self._refresh_ahead)
        return str(self._credentials.token)

    def _seconds_left(self) -> float:
        expiry = self._credentials.expiry  # naive UTC, as google-auth keeps it; None: no expiry
        if expiry is None:
            return float("inf")
        now = datetime.now(UTC).replace(tzinfo=None)
        return float((expiry - now).total_seconds())

    def _refresh(self) -> None:
        from google.auth.exceptions import GoogleAuthError

        try:
            self._credentials.refresh(self._make_request())
        except GoogleAuthError as error:
            raise ProviderUnavailable(
                f"cannot get a Vertex AI access token: {error}", status=500, kind="api_error"
            ) from error

    def _refresh_ahead(self) -> None:
        try:
            self._refresh()
        except ProviderUnavailable:
            pass  # the token still in hand stays valid; the next call past expiry retries
        finally:
            self._refreshing = False


def load_credentials(path: str | None) -> Any:
    """Load service-account credentials from `path`, or application-default ones."""
    import google.auth
    from google.auth.exceptions import GoogleAuthError
    from google.oauth2 import service_account

    try:
        if path:
            load = service_account.Credentials.from_service_account_file
            return load(path, scopes=SCOPES)  # type: ignore[no-untyped-call]
        credentials, _project = google.auth.default(scopes=SCOPES)
        return credentials
    except (GoogleAuthError, OSError, ValueError) as error:
        raise ProviderUnavailable(
            f"cannot load Google credentials: {error}", status=500, kind="api_error"
        ) from error


def make_request() -> Any:
    """Return google-auth's HTTP transport for token refreshes."""
    from google.auth.transport.requests import Request

    return Request()


class TokenSources:
    """One token source per credentials file, created on first use."""

    def __init__(self) -> None:
        self._sources: dict[str | None, TokenSource] = {}
        self._lock = threading.Lock()

    async def token_for(self, vertex: VertexConfig) -> str:
        """Return an access token for the credentials a Vertex provider names; loading the
        credentials and the first fetch run in a worker thread, off the event loop."""
        source = self._sources.get(vertex.credentials)
        token = source.cached() if source is not None else None
        if token is not None:
            return token
        return await asyncio.to_thread(self._token_blocking, vertex)

    def _token_blocking(self, vertex: VertexConfig) -> str:
        with self._lock:
            source = self._sources.get(vertex.credentials)
            if source is None:
                source = TokenSource(load_credentials(vertex.credentials), make_request)
                self._sources[vertex.credentials] = source
        return source.token()


SOURCES = TokenSources()
"""The process's token cache: credentials are per file, whichever provider names the file."""
