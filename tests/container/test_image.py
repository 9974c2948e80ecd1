"""The container image as deployed: built from docker/Dockerfile, started with its own command,
healthy by its own healthcheck, serving a report and reading it back, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from incidents.db import create_engine
from tests.container.conftest import BuiltImage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

PG_ENV = "SENTINELLE_TEST_DATABASE_URL"
SERVICE_UID = 10001
VAR = "/var/lib/sentinelle"
HEALTH_DEADLINE_SECONDS = 180
STOP_DEADLINE_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """The processes under `pid` (the server runs under buildah's chroot helpers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Container:
    """A working container of the image, its data volume a host directory (as deployed)."""

    image: BuiltImage
    name: str
    volume: Path
    port: int
    env: dict[str, str]
    log: Path
    server: subprocess.Popen[bytes] | None = None
    logs: list[str] = field(default_factory=list)

    def _run_argv(self, *command: str) -> list[str]:
        env_args = [arg for key, value in self.env.items() for arg in ("-e", f"{key}={value}")]
        return self.image.buildah.argv(
            "run",
            "--isolation",
            "chroot",
            "-v",
            f"{self.volume}:{VAR}",
            *env_args,
            self.name,
            "--",
            *command,
        )

    def exec(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a command in the container, as its configured user, with its environment."""
        return subprocess.run(
            self._run_argv(*command), capture_output=True, text=True, timeout=timeout, check=False
        )

    def start(self) -> None:
        """The image's own command (CMD), as `docker run` would start it."""
        with self.log.open("ab") as out:
            self.server = subprocess.Popen(
                self._run_argv(*self.image.config["Cmd"]),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_healthy(self) -> None:
        """The image's HEALTHCHECK command, run inside the container until it succeeds."""
        test = self.image.config["Healthcheck"]["Test"]
        assert test[0] == "CMD", test
        deadline = time.monotonic() + HEALTH_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            assert self.server is not None
            if self.server.poll() is not None:
                pytest.fail(f"the container exited ({self.server.returncode}):\n{self.output()}")
            if self.exec(*test[1:], timeout=30).returncode == 0:
                return
            time.sleep(1)
        pytest.fail(f"not healthy after {HEALTH_DEADLINE_SECONDS} s:\n{self.output()}")

    def stop(self) -> int:
        """`docker stop`: SIGTERM to the server process, then wait for it to exit."""
        server = self.server
        assert server is not None
        self.server = None
        for pid in descendants(server.pid):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            # The server itself, not buildah's chroot helpers above it (they would kill it).
            if b"serve" in argv and not argv[0].startswith(b"buildah"):
                os.kill(pid, signal.SIGTERM)
        try:
            return server.wait(timeout=STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
            pytest.fail(f"still running {STOP_DEADLINE_SECONDS} s after SIGTERM:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(name="container")
def fx_container(image: BuiltImage, tmp_path: Path) -> Iterator[Container]:
    name = f"sentinelle-test-run-{uuid.uuid4().hex[:12]}"
    image.buildah.run("from", "--quiet", "--name", name, image.name)
    volume = tmp_path / "volume"
    volume.mkdir()
    os.chown(volume, SERVICE_UID, SERVICE_UID)
    volume.chmod(0o700)
    port = free_port()
    container = Container(
        image, name, volume, port, {"SENTINELLE_PORT": str(port)}, tmp_path / "container.log"
    )
    try:
        yield container
    finally:
        if container.server is not None and container.server.poll() is None:
            os.killpg(container.server.pid, signal.SIGKILL)
            container.server.wait(timeout=30)
        image.buildah.run("rm", name, check=False)


@pytest.fixture(name="postgres_url")
def fx_postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL, beside the configured test database."""
    configured = os.environ.get(PG_ENV)
    if not configured:
        pytest.skip(f"{PG_ENV} is not set: the image is tried on SQLite only.")
    base = make_url(configured)
    name = f"{base.database}_container_{uuid.uuid4().hex[:8]}"
    admin = base.set(database="postgres").render_as_string(hide_password=False)

    async def execute(statement: str) -> None:
        engine = create_engine(admin, pooled=False)
        try:
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sign_in(container: Container) -> dict[str, str]:
    """An organisation and an officer's token, made by `sentinelle admin` inside the container."""
    org = container.exec("sentinelle", "admin", "create-org", "Association du conteneur")
    assert org.returncode == 0, org.stderr
    org_id = org.stdout.strip().splitlines()[-1]
    token = container.exec(
        "sentinelle", "admin", "create-token", "--org", org_id, "--role", "officer", "--name", "Awa"
    )
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip().splitlines()[-1]
    assert secret.startswith("stl_"), token.stdout
    return {"Authorization": f"Bearer {secret}"}


def report_and_read_back(container: Container, headers: dict[str, str]) -> str:
    occurred = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    body = {
        "type": "armed_attack",
        "occurred_at": occurred.isoformat(),
        "lat": 14.35,
        "lon": -3.6,
        "description": "Véhicule arrêté au poste, deux passagers retenus une heure.",
    }
    created = httpx.post(container.url("/api/v1/incidents"), json=body, headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    read = httpx.get(container.url(location), headers=headers, timeout=30)
    assert read.status_code == 200, read.text
    props = read.json()["properties"]
    assert props["type"] == "armed_attack"
    assert props["description"] == body["description"]
    assert read.json()["geometry"]["coordinates"] == [-3.6, 14.35]
    return location


def test_image_is_configured_to_run_as_deployed(image: BuiltImage) -> None:
    config = image.config
    assert config["User"] == "sentinelle"
    assert config["Cmd"] == ["sentinelle", "serve", "--host", "0.0.0.0"]
    assert VAR in config["Volumes"]
    assert "8000/tcp" in config["ExposedPorts"]
    assert "/api/v1/health" in " ".join(config["Healthcheck"]["Test"])
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["SENTINELLE_VAR_DIR"] == VAR
    assert env["SENTINELLE_DATABASE_URL"].endswith(f"{VAR}/sentinelle.db")


def test_the_service_user_writes_only_its_data_directory(container: Container) -> None:
    found = container.exec(
        "sh",
        "-c",
        "id -u; find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune "
        "-o -writable -print 2>/dev/null",
    )
    lines = found.stdout.split()
    assert lines[0] == str(SERVICE_UID), "the image runs as root"
    writable = set(lines[1:])
    assert VAR in writable
    # Sticky temporary directories aside (a read-only deployment mounts a tmpfs on /tmp), nothing
    # outside the data directory: not the code, not the configuration.
    outside = {
        path
        for path in writable
        if not path.startswith(VAR) and path not in {"/tmp", "/var/tmp", "/run/lock", "/var/lock"}
    }
    assert outside == set()
    code = container.exec("sh", "-c", "touch /opt/venv/bin/sentinelle")
    assert code.returncode != 0


def test_image_carries_no_local_state_keys_or_sources(container: Container) -> None:
    """A developer's generated key, databases and Git history never go into the image."""
    found = container.exec(
        "sh",
        "-c",
        "find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o "
        "\\( -name secret.key -o -name 'sentinelle*.db' -o -name .git -o -name .venv \\) -print; "
        "ls -d /src /tmp/wheels 2>/dev/null; true",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == []


def test_image_serves_on_sqlite_and_keeps_its_data_across_a_restart(
    container: Container,
) -> None:
    container.start()
    container.wait_healthy()
    # Not signed in: nothing.
    assert httpx.get(container.url("/api/v1/incidents"), timeout=30).status_code == 401
    headers = sign_in(container)
    location = report_and_read_back(container, headers)
    assert container.stop() == 0 or "Finished server process" in container.output()
    with pytest.raises(httpx.TransportError):
        httpx.get(container.url("/api/v1/health"), timeout=5)

    # The database and the generated keys are in the volume, owned by the service user: a new
    # start (an upgrade, a reboot) reads the same incident, narrative decrypted.
    assert (container.volume / "sentinelle.db").stat().st_uid == SERVICE_UID
    assert (container.volume / "secret.key").stat().st_uid == SERVICE_UID
    container.start()
    container.wait_healthy()
    again = httpx.get(container.url(location), headers=headers, timeout=30)
    assert again.status_code == 200, again.text
    assert again.json()["properties"]["description"].startswith("Véhicule arrêté")
    container.stop()


@pytest.mark.postgres
def test_image_serves_on_postgresql(container: Container, postgres_url: str) -> None:
    container.env["SENTINELLE_DATABASE_URL"] = postgres_url
    container.start()
    container.wait_healthy()
    headers = sign_in(container)
    report_and_read_back(container, headers)
    container.stop()
    # Migrations ran on start, into PostgreSQL, not into a SQLite file in the volume.
    assert not (container.volume / "sentinelle.db").exists()
