"""The HTTP client against real servers as upstreams (issue 10): uvicorn, hypercorn and granian
from PyPI, nginx from Debian; content-length, chunked, keep-alive, close-delimited, TLS."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from plexus.upstream import httpclient
from tests.upstream.interop_app import BIG, CHUNKS
from tests.upstream.servers import self_signed

pytestmark = pytest.mark.slow
APP = "tests.upstream.interop_app:app"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_command(name: str, port: int, tls: tuple[Path, Path] | None) -> list[str]:
    cert, key = (str(tls[0]), str(tls[1])) if tls else ("", "")
    match name:
        case "uvicorn":
            command = [sys.executable, "-m", "uvicorn", APP, "--host", "127.0.0.1"]
            command += ["--port", str(port), "--log-level", "warning"]
            return command + (["--ssl-certfile", cert, "--ssl-keyfile", key] if tls else [])
        case "hypercorn":
            command = [sys.executable, "-m", "hypercorn", APP, "--bind", f"127.0.0.1:{port}"]
            return command + (["--certfile", cert, "--keyfile", key] if tls else [])
        case _:
            command = [sys.executable, "-m", "granian", "--interface", "asgi"]
            command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", APP]
            return command + (["--ssl-certificate", cert, "--ssl-keyfile", key] if tls else [])


def _wait_for(port: int, process: subprocess.Popen[bytes], tls: bool) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("the server did not start")


@contextlib.contextmanager
def _running(command: list[str], port: int, tls: bool) -> Iterator[None]:
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        _wait_for(port, process, tls)
        yield
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        if process.poll() is None:
            process.kill()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ssl.SSLContext]:
    directory = tmp_path_factory.mktemp("tls")
    _server, client = self_signed(directory)
    return directory / "cert.pem", directory / "key.pem", client


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn", "granian"])
def python_server(
    request: pytest.FixtureRequest, certificate: tuple[Path, Path, ssl.SSLContext]
) -> Iterator[tuple[str, str]]:
    """One server, plain and TLS; yields both base URLs."""
    plain, secure = _free_port(), _free_port()
    cert, key, _ = certificate
    with (
        _running(_server_command(request.param, plain, None), plain, False),
        _running(_server_command(request.param, secure, (cert, key)), secure, True),
    ):
        yield f"http://127.0.0.1:{plain}", f"https://127.0.0.1:{secure}"


async def _get(pool: httpclient.Pool, url: str, body: bytes = b"") -> tuple[int, bytes]:
    response = await pool.request("POST" if body else "GET", url, {}, body, 5, 10)
    return response.status, await response.read()


async def _stream(pool: httpclient.Pool, url: str) -> list[bytes]:
    response = await pool.request("GET", url, {}, b"", 5, 10)
    connection = response.connection
    received: list[bytes] = []
    while True:
        data = connection.take()
        if data:
            received.append(data)
            continue
        if connection.done:
            response.release()
            return received
        if connection.error is not None:
            raise connection.error
        await connection.wait()


async def test_python_servers_interoperate(
    python_server: tuple[str, str], certificate: tuple[Path, Path, ssl.SSLContext]
) -> None:
    plain, secure = python_server
    for base, pool in ((plain, httpclient.Pool()), (secure, httpclient.Pool(tls=certificate[2]))):
        assert await _get(pool, base + "/echo", b'{"hello": "world"}') == (
            200,
            b'{"hello": "world"}',
        )
        assert await _get(pool, base + "/big") == (200, BIG)
        assert b"".join(await _stream(pool, base + "/stream")) == b"".join(CHUNKS)
        peers = {(await _get(pool, base + "/peer"))[1] for _ in range(10)}
        assert len(peers) == 1, "keep-alive: ten requests, one connection"
        await pool.close()


@pytest.fixture(scope="module")
def nginx(
    certificate: tuple[Path, Path, ssl.SSLContext], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """nginx in front of uvicorn: static files with a length, streams chunked (proxied,
    unbuffered), close-delimited (chunked encoding off), over HTTP and TLS."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx is not installed: .ci/run installs Debian's nginx-light")
    directory = tmp_path_factory.mktemp("nginx")
    (directory / "static").mkdir()
    (directory / "static" / "big").write_bytes(BIG)
    backend, plain, secure = _free_port(), _free_port(), _free_port()
    cert, key, _ = certificate
    config = _NGINX.format(
        root=directory, backend=backend, plain=plain, secure=secure, cert=cert, key=key
    )
    # Started as root, nginx's workers would run as www-data, who cannot read pytest's 0700
    # temp directories; as another user the directive is ignored.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (directory / "nginx.conf").write_text(user + config)
    command = [binary, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", "stderr"]
    with (
        _running(_server_command("uvicorn", backend, None), backend, False),
        _running(command, plain, False),
    ):
        _wait_for_http(f"http://127.0.0.1:{plain}/static/big")
        yield f"http://127.0.0.1:{plain}", f"https://127.0.0.1:{secure}"


def _wait_for_http(url: str) -> None:
    for _ in range(100):
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
            return
        time.sleep(0.05)


async def test_nginx_interoperates(
    nginx: tuple[str, str], certificate: tuple[Path, Path, ssl.SSLContext]
) -> None:
    plain, secure = nginx
    for base, pool in ((plain, httpclient.Pool()), (secure, httpclient.Pool(tls=certificate[2]))):
        assert await _get(pool, base + "/static/big") == (200, BIG)
        assert b"".join(await _stream(pool, base + "/stream")) == b"".join(CHUNKS)
        assert b"".join(await _stream(pool, base + "/closing/stream")) == b"".join(CHUNKS)
        assert await _get(pool, base + "/echo", b"through nginx") == (200, b"through nginx")
        await pool.close()


_NGINX = """
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log stderr error;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream app {{ server 127.0.0.1:{backend}; keepalive 4; }}
    server {{
        listen 127.0.0.1:{plain};
        listen 127.0.0.1:{secure} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location /static/ {{ root {root}; }}
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
        location /closing/ {{
            proxy_pass http://app/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            chunked_transfer_encoding off;
        }}
    }}
}}
"""
