"""Outbound HTTP proxies, against a real proxy server (proxy.py from PyPI) on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plexus.config import TimeoutConfig
from plexus.errors import UpstreamUnreachable
from plexus.upstream import httpclient
from plexus.upstream.client import Upstream
from plexus.upstream.httpclient import Proxy
from plexus.upstream.proxies import ProxyChoice
from tests.upstream.servers import Server, echo_forever, self_signed

USER, PASSWORD = "gateway", "proxy-pass-123"


@pytest.fixture(scope="module")
def proxy_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """proxy.py with Basic auth on a free loopback port; yields `http://user:pass@host:port`."""
    port_file = tmp_path_factory.mktemp("proxy") / "port"
    command = [
        sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0",
        "--port-file", str(port_file), "--basic-auth", f"{USER}:{PASSWORD}",
        "--num-acceptors", "1", "--num-workers", "1", "--log-level", "ERROR",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("proxy.py did not start")
            time.sleep(0.05)
        yield f"http://{USER}:{PASSWORD}@127.0.0.1:{port_file.read_text().strip()}"
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)


def _proxy(url: str, password: str = PASSWORD) -> Proxy:
    return Proxy.from_url(url.replace(PASSWORD, password))


async def test_https_through_a_connect_tunnel_verifies_the_origin(
    proxy_url: str, tmp_path: Path
) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    async with Server(echo_forever).running(server_tls) as url:
        pool = httpclient.Pool(tls=client_tls)
        response = await pool.request("POST", url, {}, b"tunnelled", 5, 5, proxy=_proxy(proxy_url))
        assert await response.read() == b"tunnelled"
        # The tunnel is end to end: a certificate the client does not trust is still refused.
        with pytest.raises(httpclient.ConnectError):
            await httpclient.Pool().request("POST", url, {}, b"x", 5, 5, proxy=_proxy(proxy_url))
        await pool.close()


async def test_plain_http_goes_through_the_proxy_in_absolute_form(proxy_url: str) -> None:
    async with Server(echo_forever).running() as url:
        pool = httpclient.Pool()
        response = await pool.request("POST", url, {}, b"plain", 5, 5, proxy=_proxy(proxy_url))
        assert await response.read() == b"plain"
        await pool.close()


async def test_wrong_proxy_credentials_are_refused(proxy_url: str) -> None:
    proxy = _proxy(proxy_url, password="wrong")
    async with Server(echo_forever).running() as url:
        with pytest.raises(httpclient.ConnectError, match="407"):  # a CONNECT tunnel
            await httpclient.Pool().request(
                "POST", url, {}, b"x", 5, 5, address="127.0.0.1", proxy=proxy
            )
        response = await httpclient.Pool().request("POST", url, {}, b"x", 5, 5, proxy=proxy)
        assert response.status == 407  # the absolute form: the proxy's own answer
        response.close()


async def test_a_provider_proxy_setting_routes_its_calls(proxy_url: str) -> None:
    upstream = Upstream()
    await upstream.start()
    try:
        async with Server(echo_forever).running() as url:
            answer = await upstream.full(url, {}, b"via", TimeoutConfig(), proxy=proxy_url)
            assert answer.body == b"via"
            with pytest.raises(UpstreamUnreachable):
                await upstream.full(
                    url, {}, b"x", TimeoutConfig(), proxy=proxy_url.replace(PASSWORD, "bad")
                )
    finally:
        await upstream.close()


def test_the_environment_picks_the_proxy_unless_no_proxy_names_the_host() -> None:
    choice = ProxyChoice(
        {
            "HTTPS_PROXY": "http://proxy.corp:3128",
            "http_proxy": "http://u:p@plain.corp:8080",
            "NO_PROXY": "localhost,.internal.corp,10.0.0.0/8,exact.host",
        }
    )
    assert choice.for_url("https://api.openai.com/v1") == Proxy("proxy.corp", 3128)
    plain = choice.for_url("http://example.com/")
    assert plain is not None and plain.host == "plain.corp" and plain.authorization
    for bypassed in (
        "https://localhost:8080/v1",
        "https://llm.internal.corp/v1",
        "https://internal.corp/v1",
        "http://10.1.2.3:8000/v1",
        "https://exact.host/v1",
    ):
        assert choice.for_url(bypassed) is None, bypassed
    assert choice.for_url("https://api.openai.com/v1", "none") is None
    configured = choice.for_url("https://api.openai.com/v1", "http://other:9000")
    assert configured == Proxy("other", 9000)
    assert ProxyChoice({}).for_url("https://api.openai.com/v1") is None


def test_proxy_credentials_never_show_in_its_repr() -> None:
    assert PASSWORD not in repr(Proxy.from_url(f"http://{USER}:{PASSWORD}@p:1"))


async def test_the_image_fetcher_tunnels_to_the_checked_address(
    proxy_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through a proxy, a CONNECT to the host name would let the proxy resolve it afresh.
    seen: list[tuple[str | None, Proxy | None]] = []
    upstream = Upstream()
    upstream.proxies = ProxyChoice({"HTTP_PROXY": proxy_url})
    await upstream.start()
    real_request = upstream.pool.request

    async def recording(*args: object, **kwargs: object) -> httpclient.Response:
        seen.append((kwargs.get("address"), kwargs.get("proxy")))  # type: ignore[arg-type]
        return await real_request(*args, **kwargs)  # type: ignore[arg-type]

    async def public(host: str) -> str:
        return "127.0.0.1"  # as if the guard had checked a public address

    from plexus.upstream import fetch as fetch_module

    monkeypatch.setattr(upstream.pool, "request", recording)
    monkeypatch.setattr(fetch_module, "public_address", public)
    try:
        async with Server(echo_forever).running() as url:
            with contextlib.suppress(UpstreamUnreachable):
                await asyncio.wait_for(fetch_module.fetch(upstream, url, 1000, 5), 10)
    finally:
        await upstream.close()
    assert seen and seen[0][0] == "127.0.0.1" and seen[0][1] is not None
