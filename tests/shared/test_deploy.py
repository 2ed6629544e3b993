"""The deployment files agree with each other and with Plexus: the replicas' config loads, nginx
balances over the compose file's replicas, the image's health check and command use one port.
(No container tool can pull a base image here: test_replicas.py runs the same topology with
processes.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from plexus.config import config_secrets, load_config, parse_config

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"


def test_the_replicas_config_loads_and_shares_state(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "PLEXUS_KEY", "POSTGRES_PASSWORD"):
        monkeypatch.setenv(name, f"value-of-{name.lower()}")
    config = load_config(DEPLOY / "plexus.yaml")
    assert config.server.redis_url == "redis://valkey:6379/0"
    assert config.usage.database.startswith("postgres://plexus:")
    assert "value-of-postgres_password" in config.usage.database
    assert "value-of-plexus_key" in config_secrets(config)


def test_a_redis_password_is_a_secret() -> None:
    config = parse_config({"server": {"redis_url": "redis://:hunter2@cache:6379/0"}})
    assert ":hunter2" in config_secrets(config)


def test_nginx_balances_over_the_compose_replicas() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"nginx", "postgres", "valkey"} <= set(services)
    replicas = sorted(name for name in services if name.startswith("plexus-"))
    assert len(replicas) == 2
    for name in replicas:
        assert services[name]["build"] == ".."
        assert "./plexus.yaml:/etc/plexus/plexus.yaml:ro" in services[name]["volumes"]
    upstreams = re.findall(r"^\s*server (\S+):(\d+)", (DEPLOY / "nginx.conf").read_text(), re.M)
    assert sorted(host for host, _ in upstreams) == replicas
    assert {port for _, port in upstreams} == {"4000"}


def test_the_image_runs_unprivileged_and_checks_its_own_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    (check,) = re.findall(r"^HEALTHCHECK .*\n\s+CMD (.*)$", dockerfile, re.M)
    assert "http://127.0.0.1:4000/health" in check
    assert '"serve", "--host", "0.0.0.0", "--port", "4000"' in dockerfile
