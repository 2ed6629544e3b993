"""Command line: `plexus serve` runs the gateway, `plexus check` validates a config."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import os
import signal
import sys

from plexus.config import Config, ConfigError, config_path, load_config
from plexus.providers import ADAPTERS

_GC_THRESHOLD = 20_000


def create_app() -> object:
    """Build the ASGI app from PLEXUS_CONFIG (the uvicorn factory, one per worker)."""
    from plexus.app import Gateway
    from plexus.log import configure_logging

    path = config_path(None)
    config = load_config(path, ADAPTERS)
    configure_logging(config.server.log_format)
    gateway = Gateway(config, path)
    # Everything alive now lives as long as the worker: keep it out of every collection, and
    # collect the young generation less often (reference counting frees per-request garbage).
    gc.collect()
    gc.freeze()
    gc.set_threshold(_GC_THRESHOLD, 20, 20)
    return gateway


def _load_or_exit(path: str) -> Config:
    try:
        return load_config(path, ADAPTERS)
    except ConfigError as error:
        print(f"plexus: {path}: invalid config", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(2) from error


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from plexus.server import GuardedHttpToolsProtocol, raise_fd_limit

    path = config_path(args.config)
    config = _load_or_exit(path)
    host = args.host or config.server.host
    if not config.keys and not config.server.open and not _is_loopback(host):
        print(
            f"plexus: refusing to serve on {host} with no gateway keys: anyone who can reach it "
            "could spend every provider key. Add keys, bind to 127.0.0.1, or set "
            "server.open: true if the API is meant to be open.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    raise_fd_limit()
    os.environ["PLEXUS_CONFIG"] = os.path.abspath(path)
    # uvicorn re-raises SIGTERM once its graceful shutdown is done; exit cleanly instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "plexus.cli:create_app",
        factory=True,
        host=host,
        port=args.port or config.server.port,
        workers=args.workers or config.server.workers,
        loop="uvloop",
        http=GuardedHttpToolsProtocol,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
        timeout_graceful_shutdown=max(1, round(config.server.shutdown_grace)),
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check(args: argparse.Namespace) -> None:
    path = config_path(args.config)
    config = _load_or_exit(path)
    print(f"{path}: ok")
    print(f"providers ({len(config.providers)}):")
    for name, provider in config.providers.items():
        key = "key set" if provider.api_key else f"key missing: ${provider.api_key_missing}"
        if provider.api_key is None and provider.api_key_missing is None:
            key = "no key"
        print(f"  {name}: {provider.type} {provider.api_base_url} ({key})")
    print(f"aliases ({len(config.models)}):")
    for name, alias in config.models.items():
        targets = ", ".join(f"{t.provider}/{t.model}" for t in alias.targets)
        print(f"  {name} [{alias.selector}]: {targets}")
    if not config.keys:
        print("warning: no gateway keys configured: the API is open")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `plexus` command."""
    parser = argparse.ArgumentParser(prog="plexus", description="A unified LLM API gateway.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument(
        "--config", help="config file (default: $PLEXUS_CONFIG or config/plexus.yaml)"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="worker processes (one per core)")
    serve.set_defaults(handler=_serve)
    check = commands.add_parser("check", help="validate the config and print a summary")
    check.add_argument("--config")
    check.set_defaults(handler=_check)
    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
