"""The dashboard: a single-page app of plain ES modules and CSS, shipped in the package and
served at /ui (platform.md 5). No build step: the files under `static/` are what the browser
gets, read once at start, gzipped once, and kept in memory.

`/ui/assets/<version>/<file>` serves a file for a year (`version` hashes every file, so an
upgrade changes every URL); the page itself, `index.html`, names that versioned folder and is
revalidated by its ETag on every load. Any other path under /ui is the page (the app routes on
the client), except under `assets/`, where an unknown file is a 404.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from plexus.call import ResponseWriter
from plexus.routes import UI_PREFIX, Route

ASSETS = "assets/"
_INDEX = "index.html"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".woff2": "font/woff2",
}
_COMPRESSIBLE = (".html", ".js", ".css", ".svg", ".json")
# The contract's policy (admin-contract.md): nothing inline, nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_SECURITY = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_REVALIDATE = b"no-cache"
_IMMUTABLE = b"public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    """One file as served: its bytes, their gzip form when that is smaller, and its ETag."""

    content_type: bytes
    body: bytes
    gzipped: bytes | None
    etag: str

    @classmethod
    def of(cls, name: str, body: bytes) -> Asset:
        """The asset of a file called `name` holding `body`."""
        suffix = name[name.rfind(".") :] if "." in name else ""
        kind = _TYPES.get(suffix, "application/octet-stream").encode()
        packed = gzip.compress(body, 9, mtime=0) if suffix in _COMPRESSIBLE else None
        if packed is not None and len(packed) >= len(body):
            packed = None
        return cls(kind, body, packed, hashlib.sha256(body).hexdigest()[:20])


@dataclass(frozen=True, slots=True)
class Answer:
    """What a request under /ui gets: status, headers and body (its head only for HEAD)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""


class Dashboard:
    """The dashboard's files, loaded once; answers GET and HEAD under /ui."""

    def __init__(self, root: Traversable | None = None) -> None:
        root = root if root is not None else resources.files(__name__) / "static"
        files = dict(_walk(root, ""))
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + files[name] + b"\0")
        self.version = digest.hexdigest()[:12]
        index = files.pop(_INDEX)
        versioned = f"{UI_PREFIX}/{ASSETS}{self.version}/".encode()
        self.index = Asset.of(_INDEX, index.replace(f"{UI_PREFIX}/{ASSETS}".encode(), versioned))
        self.assets = {
            name.removeprefix(ASSETS): Asset.of(name, body)
            for name, body in files.items()
            if name.startswith(ASSETS)
        }

    def answer(self, method: str, rest: str, headers: dict[str, str]) -> Answer:
        """The answer to `method /ui/<rest>` with the request's `headers`."""
        if method not in ("GET", "HEAD"):
            allow = [(b"allow", b"GET, HEAD"), (b"content-type", b"text/plain; charset=utf-8")]
            return Answer(405, [*allow, *_SECURITY], b"Method Not Allowed\n")
        if not rest.startswith(ASSETS):
            return _representation(self.index, _REVALIDATE, headers)
        name = rest[len(ASSETS) :]
        cache = _REVALIDATE
        version, _, inner = name.partition("/")
        if version == self.version:
            name, cache = inner, _IMMUTABLE
        asset = self.assets.get(name)
        if asset is None:
            plain = [(b"content-type", b"text/plain; charset=utf-8"), *_SECURITY]
            return Answer(404, plain, b"Not Found\n")
        return _representation(asset, cache, headers)

    async def serve(self, route: Route, headers: dict[str, str], writer: ResponseWriter) -> None:
        """Answer a request under /ui."""
        answer = self.answer(route.method, route.rest, headers)
        head_only = route.method == "HEAD" and answer.status != 304
        await writer.body(answer.status, answer.body, answer.headers, head_only)


def _representation(asset: Asset, cache: bytes, headers: dict[str, str]) -> Answer:
    """The asset in the encoding the client accepts, or 304 when it has it already."""
    gzipped = asset.gzipped is not None and _accepts_gzip(headers.get("accept-encoding", ""))
    etag = f'"{asset.etag}-gz"' if gzipped else f'"{asset.etag}"'
    common = [(b"etag", etag.encode()), (b"cache-control", cache), *_SECURITY]
    if asset.gzipped is not None:
        common.append((b"vary", b"accept-encoding"))
    if _matches(headers.get("if-none-match"), asset.etag):
        return Answer(304, common)
    common.append((b"content-type", asset.content_type))
    if gzipped and asset.gzipped is not None:
        return Answer(200, [*common, (b"content-encoding", b"gzip")], asset.gzipped)
    return Answer(200, common, asset.body)


def _accepts_gzip(accept: str) -> bool:
    """Whether an Accept-Encoding value admits gzip (`gzip;q=0` refuses it)."""
    for item in accept.lower().split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=")
            return not params or _positive(quality)
    return False


def _positive(quality: str) -> bool:
    try:
        return float(quality) > 0
    except ValueError:
        return False


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names either encoding of the asset (weak comparison)."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if tag == "*" or tag in (etag, f"{etag}-gz"):
            return True
    return False


def _walk(folder: Traversable, prefix: str) -> list[tuple[str, bytes]]:
    """Every file under `folder`, as (path relative to the root, bytes)."""
    files: list[tuple[str, bytes]] = []
    for entry in folder.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            files.extend(_walk(entry, name + "/"))
        elif not entry.name.startswith("."):
            files.append((name, entry.read_bytes()))
    return files
