"""Command line: `plexus serve` runs the gateway, `plexus check` validates a config,
`plexus usage` summarises the usage store."""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import os
import signal
import sys
import time
from pathlib import Path

import msgspec

from plexus.config import Config, ConfigError, config_path, load_config
from plexus.ledger.query import Queries, UsageRow, parse_time
from plexus.ledger.readers import StoreUnavailable, open_reader
from plexus.metrics import clear_snapshots
from plexus.providers import ADAPTERS

_GC_THRESHOLD = 20_000


def create_app() -> object:
    """Build the ASGI app from PLEXUS_CONFIG (the uvicorn factory, one per worker)."""
    from plexus.app import Gateway
    from plexus.log import configure_logging

    path = config_path(None)
    config = load_config(path, ADAPTERS)
    configure_logging(config.server.log_format)
    gateway = Gateway(config, path, int(os.environ.get("PLEXUS_WORKERS", "1")))
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
    if config.server.metrics:
        clear_snapshots(Path(config.server.data_dir) / "metrics")
    os.environ["PLEXUS_CONFIG"] = os.path.abspath(path)
    workers = args.workers or config.server.workers
    os.environ["PLEXUS_WORKERS"] = str(workers)  # each worker enforces its share of limits
    # uvicorn re-raises SIGTERM once its graceful shutdown is done; exit cleanly instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "plexus.cli:create_app",
        factory=True,
        host=host,
        port=args.port or config.server.port,
        workers=workers,
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


_COLUMNS = ("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
            "cache_write_tokens", "reasoning_tokens")  # fmt: skip
_HEADERS = ("requests", "errors", "input", "output", "cache read", "cache write", "reasoning")


def _usage(args: argparse.Namespace) -> None:
    config = _load_or_exit(config_path(args.config))
    reader = open_reader(config.usage, config.server.data_dir)
    if reader is None:
        print("plexus: the usage store is off (usage.database: none)", file=sys.stderr)
        raise SystemExit(2)
    now = time.time()
    try:
        since = parse_time(args.since, now)
        until = parse_time(args.until, now) if args.until else now
    except ValueError as error:
        print(f"plexus: {error}", file=sys.stderr)
        raise SystemExit(2) from error

    async def ask() -> list[UsageRow]:
        try:
            return await Queries(reader).usage(since, until, "total", args.by)
        finally:
            await reader.close()

    try:
        rows = asyncio.run(ask())
    except StoreUnavailable as error:
        print(f"plexus: {error}", file=sys.stderr)
        raise SystemExit(1) from error
    if args.json:
        window = {"since": since, "until": until, "by": args.by}
        sys.stdout.write(msgspec.json.encode({**window, "rows": rows}).decode() + "\n")
        return
    _print_usage(rows, args.by)


def _print_usage(usage: list[UsageRow], by: str) -> None:
    """A table of the rows and their total; a cost is shown only for priced requests."""
    if not usage:
        print("no requests in this window")
        return
    if by != "none" and len(usage) > 1:
        total = UsageRow(usage[0].period, "(total)")
        for row in usage:
            for name in (*_COLUMNS, "cost_usd", "unpriced"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        usage.append(total)
    header = (by if by != "none" else "", *_HEADERS, "cost (USD)", "unpriced")
    table = [header] + [
        (row.group or "-" if by != "none" else "all", *(f"{getattr(row, n):,}" for n in _COLUMNS),
         _cost(row), f"{row.unpriced:,}")
        for row in usage
    ]  # fmt: skip
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells).rstrip())


def _cost(row: UsageRow) -> str:
    """The cost of the priced requests; `-` when none was priced (unpriced is not free)."""
    if row.requests == row.unpriced:
        return "-"
    return f"{row.cost_usd:,.6f}"


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
    usage = commands.add_parser("usage", help="summarise the usage store")
    usage.add_argument("--config")
    usage.add_argument("--since", default="24h", help="24h, 7d, ISO 8601 or Unix seconds")
    usage.add_argument("--until", help="as --since (default: now)")
    usage.add_argument(
        "--by", choices=("key", "alias", "provider", "model", "none"), default="none"
    )
    usage.add_argument("--json", action="store_true", help="print JSON instead of a table")
    usage.set_defaults(handler=_usage)
    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
