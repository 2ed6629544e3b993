"""The dashboard's files at /ui: types, caching, gzip, security headers, and the rules the
page's code keeps (tests/e2e/test_dashboard.py drives it in a browser)."""

from __future__ import annotations

import gzip
import re
import tomllib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp
import pytest

from plexus.config import parse_config
from plexus.ui import CSP, Dashboard
from tests.conftest import run_gateway

STATIC = Path(__file__).resolve().parents[1] / "src" / "plexus" / "ui" / "static"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
DASHBOARD = Dashboard()


@pytest.fixture
async def base() -> AsyncIterator[str]:
    """A gateway with a gateway key: the dashboard's files need none."""
    config = parse_config({"keys": {"alice": {"secret": "alice-secret"}}})
    async with run_gateway(config) as url:
        yield url


async def fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, Mapping[str, str], bytes]:
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.request(method, url, headers=headers or {}) as response,
    ):
        return response.status, response.headers.copy(), await response.read()


def assert_secure(headers: Mapping[str, str]) -> None:
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


async def test_the_page_is_served_without_a_key_and_names_versioned_assets(base: str) -> None:
    status, headers, body = await fetch(f"{base}/ui", headers={"accept-encoding": "identity"})
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert_secure(headers)
    assert f'src="/ui/assets/{DASHBOARD.version}/app.js"'.encode() in body
    assert f'href="/ui/assets/{DASHBOARD.version}/app.css"'.encode() in body


@pytest.mark.parametrize("path", ["/ui/", "/ui/log", "/ui/log/abc.def", "/ui/usage?by=key"])
async def test_every_page_path_is_the_single_page(base: str, path: str) -> None:
    status, headers, body = await fetch(base + path, headers={"accept-encoding": "identity"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b'<div id="app">' in body
    assert_secure(headers)


async def test_versioned_assets_are_immutable_and_gzipped(base: str) -> None:
    url = f"{base}/ui/assets/{DASHBOARD.version}/app.js"
    status, headers, body = await fetch(url, headers={"accept-encoding": "gzip, br"})
    assert status == 200
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "accept-encoding"
    assert_secure(headers)
    assert gzip.decompress(body) == (STATIC / "assets" / "app.js").read_bytes()


@pytest.mark.parametrize("accept", ["", "identity", "gzip;q=0", "br"])
async def test_no_gzip_unless_accepted(base: str, accept: str) -> None:
    status, headers, body = await fetch(
        f"{base}/ui/assets/app.css", headers={"accept-encoding": accept}
    )
    assert status == 200
    assert "Content-Encoding" not in headers
    assert headers["Content-Type"] == "text/css; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert body == (STATIC / "assets" / "app.css").read_bytes()


@pytest.mark.parametrize("accept", ["gzip", "identity"])
async def test_a_known_etag_gets_304(base: str, accept: str) -> None:
    url = f"{base}/ui/assets/pages/login.js"
    _, first, _ = await fetch(url, headers={"accept-encoding": accept})
    status, headers, body = await fetch(
        url, headers={"if-none-match": first["ETag"], "accept-encoding": accept}
    )
    assert status == 304
    assert body == b""
    assert headers["ETag"] == first["ETag"]
    assert_secure(headers)


async def test_head_has_the_get_headers_and_no_body(base: str) -> None:
    url = f"{base}/ui/assets/favicon.svg"
    _, get_headers, get_body = await fetch(url, headers={"accept-encoding": "identity"})
    status, headers, body = await fetch(url, "HEAD", {"accept-encoding": "identity"})
    assert status == 200
    assert body == b""
    assert headers["Content-Length"] == str(len(get_body))
    assert headers["Content-Type"] == get_headers["Content-Type"] == "image/svg+xml"


@pytest.mark.parametrize("path", ["/ui/assets/nope.js", "/ui/assets/0123456789ab/app.js"])
async def test_unknown_assets_are_404(base: str, path: str) -> None:
    status, headers, body = await fetch(base + path)
    assert status == 404
    assert body == b"Not Found\n"
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert_secure(headers)


@pytest.mark.parametrize("rest", ["assets/../__init__.py", "assets/../../app.py", "assets/"])
def test_asset_names_are_looked_up_never_opened(rest: str) -> None:
    assert DASHBOARD.answer("GET", rest, {}).status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_only_get_and_head(base: str, method: str) -> None:
    status, headers, _ = await fetch(f"{base}/ui/log", method)
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert_secure(headers)


def test_every_static_file_is_package_data() -> None:
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]
    package = STATIC.parent.parent
    shipped = {path for pattern in patterns["plexus"] for path in package.glob(pattern)}
    files = {path for path in STATIC.rglob("*") if path.is_file()}
    assert files and files <= shipped


# What would let request content run as code, or break the CSP: none of it in the page.
_FORBIDDEN = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
    r"setAttribute\(\s*[\"']style|\.cssText|javascript:"
)


@pytest.mark.parametrize(
    "path", sorted(STATIC.rglob("*.js")), ids=lambda p: str(p.relative_to(STATIC))
)
def test_scripts_never_parse_data_as_html(path: Path) -> None:
    assert _FORBIDDEN.findall(path.read_text()) == []


def test_the_page_has_no_inline_script_or_style() -> None:
    html = (STATIC / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html and "style=" not in html
    assert re.findall(r"\son\w+\s*=", html) == []
