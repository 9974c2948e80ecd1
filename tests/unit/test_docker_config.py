"""docker/compose.yaml is a valid Compose file (checked by a Compose CLI when one is installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

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


def test_compose_runs_the_api_on_postgresql_with_healthchecks() -> None:
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
    resolved = result.stdout
    assert "postgresql+asyncpg://" in resolved
    assert "postgres:15" in resolved
    assert resolved.count("healthcheck:") == 2
    assert "service_healthy" in resolved
