"""The container image, built as an operator would without a registry: a Debian base made with
mmdebstrap, imported with buildah, then docker/Dockerfile built on it with `buildah bud`.

The base tarball is cached under SENTINELLE_TEST_CACHE_DIR (default /var/cache/sentinelle-test),
outside the repository, and so are buildah's storage and its layers: a second run rebuilds only
what changed. Without the cache (a fresh machine, an unwritable directory) everything is made in
the test's temporary directory and the tests still pass, only slower.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
IGNOREFILE = ROOT / "docker" / "Dockerfile.dockerignore"
CACHE_ENV = "SENTINELLE_TEST_CACHE_DIR"
DEFAULT_CACHE = Path("/var/cache/sentinelle-test")
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# What the image's wheels need from the base: Python 3.11 with venv, and CA certificates for pip.
BASE_PACKAGES = ["python3", "python3-venv", "ca-certificates"]
# A cached base older than this is made again: it gets Debian's security updates.
BASE_MAX_AGE_SECONDS = 7 * 24 * 3600
# The host's own certificate authorities (a TLS-inspecting proxy's, say) go into the base, so
# that pip inside the build trusts what the host trusts.
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
IMAGE = "localhost/sentinelle-test:latest"


@dataclass(frozen=True)
class Buildah:
    """buildah with its own storage (under the cache directory), as argv prefixes."""

    executable: str
    root: Path
    runroot: Path

    def argv(self, *args: str) -> list[str]:
        return [
            self.executable,
            "--root",
            str(self.root),
            "--runroot",
            str(self.runroot),
            *args,
        ]

    def run(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.argv(*args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"buildah {' '.join(args[:3])} failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result


@dataclass(frozen=True)
class BuiltImage:
    buildah: Buildah
    name: str
    config: dict[str, Any]
    """The image's Docker configuration (User, Cmd, Env, Healthcheck, Volumes, ...)."""
    durations: dict[str, float]


def _tools() -> tuple[str, str]:
    mmdebstrap = shutil.which("mmdebstrap")
    buildah = shutil.which("buildah")
    if mmdebstrap is None or buildah is None:
        pytest.skip(
            "The container test needs mmdebstrap and buildah: `apt-get install mmdebstrap buildah` "
            "(.ci/run installs them when missing)."
        )
    return mmdebstrap, buildah


def _cache_dir(tmp: Path) -> Path:
    wanted = Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    try:
        wanted.mkdir(parents=True, exist_ok=True)
        probe = wanted / ".writable"
        probe.touch()
        probe.unlink()
    except OSError:
        return tmp
    return wanted


def _base_key() -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([SUITE, MIRROR, BASE_PACKAGES]).encode())
    if HOST_CA_DIR.is_dir():
        for cert in sorted(HOST_CA_DIR.rglob("*.crt")):
            digest.update(cert.name.encode())
            digest.update(cert.read_bytes())
    return digest.hexdigest()[:12]


def _make_base_tarball(mmdebstrap: str, target: Path) -> None:
    partial = target.with_suffix(".partial.tar")
    hooks = ['--customize-hook=chroot "$1" update-ca-certificates >/dev/null']
    if HOST_CA_DIR.is_dir() and any(HOST_CA_DIR.rglob("*.crt")):
        hooks.insert(
            0,
            f'--customize-hook=cp -r {HOST_CA_DIR}/. "$1/usr/local/share/ca-certificates/"',
        )
    command = [
        mmdebstrap,
        "--quiet",
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        '--aptopt=Acquire::Retries "3"',
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        *hooks,
        SUITE,
        str(partial),
        MIRROR,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, check=False)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        pytest.fail(f"mmdebstrap failed ({result.returncode}):\n{result.stderr[-4000:]}")
    partial.replace(target)


def _import_base(buildah: Buildah, tarball: Path, name: str) -> None:
    if buildah.run("inspect", "--type", "image", name, check=False).returncode == 0:
        return
    container = buildah.run("from", "scratch").stdout.strip()
    try:
        buildah.run("add", container, str(tarball), "/")
        buildah.run("commit", "--quiet", container, name)
    finally:
        buildah.run("rm", container, check=False)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time across pytest-xdist workers and concurrent runs (the second waits,
    then finds the layers cached)."""
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session", name="image")
def fx_image(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    """docker/Dockerfile built on a Debian base: the image users get, on another base."""
    mmdebstrap, buildah_exe = _tools()
    cache = _cache_dir(tmp_path_factory.mktemp("container-cache"))
    buildah = Buildah(buildah_exe, cache / "storage", Path("/run/sentinelle-test/containers"))
    durations: dict[str, float] = {}
    with _locked(cache / "build.lock"):
        key = _base_key()
        tarball = cache / f"debian-{SUITE}-python3-{key}.tar"
        started = time.monotonic()
        if not tarball.exists() or time.time() - tarball.stat().st_mtime > BASE_MAX_AGE_SECONDS:
            _make_base_tarball(mmdebstrap, tarball)
        base = f"localhost/sentinelle-test-base:{key}-{int(tarball.stat().st_mtime)}"
        _import_base(buildah, tarball, base)
        durations["base"] = time.monotonic() - started
        started = time.monotonic()
        buildah.run(
            "bud",
            "--layers",
            "--format",
            "docker",
            "--isolation",
            "chroot",
            "--quiet",
            "--build-arg",
            f"BASE_IMAGE={base}",
            "--ignorefile",
            str(IGNOREFILE),
            "-f",
            str(DOCKERFILE),
            "-t",
            IMAGE,
            str(ROOT),
            timeout=2400,
        )
        durations["build"] = time.monotonic() - started
    inspected = json.loads(buildah.run("inspect", "--type", "image", IMAGE).stdout)
    config = inspected["Docker"]["config"]
    print(f"container image: base {durations['base']:.0f} s, build {durations['build']:.0f} s")
    return BuiltImage(buildah, IMAGE, config, durations)
