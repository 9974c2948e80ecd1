"""docker/compose.yaml is a valid Compose file, resolved by a Compose CLI when one is installed
(.ci/run installs Debian's docker-compose): API, dispatcher and PostgreSQL as documented."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"


def compose_command() -> list[str] | None:
    """`docker compose` (the v2 plugin) when present, else the standalone `docker-compose`."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone is not None else None


def test_compose_file_validates() -> None:
    command = compose_command()
    if command is None:
        pytest.skip(
            "No Compose CLI: install the docker compose plugin or `apt-get install docker-compose` "
            "to validate docker/compose.yaml."
        )
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def resolved_compose() -> dict[str, Any]:
    command = compose_command()
    if command is None:
        pytest.skip("No Compose CLI to resolve docker/compose.yaml.")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def host_ip(port: str | dict[str, Any]) -> str:
    """Compose v2 resolves ports to mappings, docker-compose 1 to `ip:published:target`."""
    if isinstance(port, dict):
        return str(port.get("host_ip", ""))
    return port.split(":")[0] if port.count(":") == 2 else ""


def volume_target(volume: str | dict[str, Any]) -> str:
    if isinstance(volume, dict):
        return str(volume["target"])
    return volume.split(":")[1]


def test_compose_runs_the_api_on_postgresql_with_healthchecks() -> None:
    services = resolved_compose()["services"]
    assert set(services) == {"db", "api", "dispatcher"}
    assert services["db"]["image"].startswith("postgres:15")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    api = services["api"]
    assert api["environment"]["SENTINELLE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "/api/v1/health" in " ".join(api["healthcheck"]["test"])
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    # Published on the host's loopback only.
    assert [host_ip(port) for port in api["ports"]] == ["127.0.0.1"]


def test_compose_sends_alerts_from_a_dispatcher_beside_the_api() -> None:
    services = resolved_compose()["services"]
    api, dispatcher = services["api"], services["dispatcher"]
    # One sender: the API does not send inside itself when the dispatcher does.
    assert str(api["environment"]["SENTINELLE_DISPATCH_IN_PROCESS"]).lower() == "false"
    assert dispatcher["command"][:2] == ["sentinelle", "dispatch"]
    assert dispatcher["depends_on"]["api"]["condition"] == "service_healthy"
    # The image's HTTP healthcheck would call a dispatcher unhealthy: it is turned off there.
    check = dispatcher["healthcheck"]
    assert check.get("disable") is True or check.get("test") == ["NONE"]
    assert (
        dispatcher["environment"]["SENTINELLE_DATABASE_URL"]
        == api["environment"]["SENTINELLE_DATABASE_URL"]
    )


def test_compose_containers_write_only_their_volume_and_tmp() -> None:
    resolved = resolved_compose()
    for name in ("api", "dispatcher"):
        service = resolved["services"][name]
        assert service["read_only"] is True, name
        assert any(str(mount).startswith("/tmp") for mount in service["tmpfs"]), name
        targets = [volume_target(volume) for volume in service["volumes"]]
        assert targets == ["/var/lib/sentinelle"], name
    assert {"pgdata", "sentinelle-var", "dispatcher-var"} <= set(resolved["volumes"])
