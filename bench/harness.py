"""What bench modules share: recording figures, notes, progress bars, servers in subprocesses."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
OUT_DIR = BENCH_DIR / "out"
RESULTS = BENCH_DIR / "results.json"
PERFORMANCE_MD = ROOT.parent / "shared" / "PERFORMANCE.md"

Row = tuple[str, str, str, str]  # measure, value, reference, ratio (as printed)

console = Console()
if not console.is_terminal:  # `make bench | tee`: keep the tables readable rather than 80 columns
    console = Console(width=140)


@dataclass
class Options:
    """Run-wide switches set by `python -m bench`; modules read them through `quick()`."""

    quick: bool = False


OPTIONS = Options()
_notes: list[str] = []


def quick() -> bool:
    """True under `--quick`: modules should use smaller sizes and shorter runs."""
    return OPTIONS.quick


def note(text: str) -> None:
    """A line printed under the current module's table (context, references, caveats)."""
    _notes.append(text)


def take_notes() -> list[str]:
    notes = list(_notes)
    _notes.clear()
    return notes


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def record(
    results: dict[str, Any],
    measure: str,
    value: float,
    unit: str,
    *,
    reference: float | None = None,
    ratio: float | None = None,
    digits: int = 0,
    target: str | None = None,
) -> Row:
    """Store one figure in `results` (the results.json shape) and return its printed table row.

    The ratio defaults to value / reference. `target` (e.g. "≥ 0.35") is only printed.
    """
    if ratio is None and reference not in (None, 0):
        ratio = value / float(reference)  # type: ignore[arg-type]
    results[measure] = {
        "value": round(float(value), 4),
        "unit": unit,
        "reference": None if reference is None else round(float(reference), 4),
        "ratio": None if ratio is None else round(float(ratio), 4),
    }
    ratio_text = "–" if ratio is None else f"{ratio:.2f}"
    if target:
        ratio_text += f" (target {target})"
    return (
        measure,
        f"{_fmt(value, digits)} {unit}",
        "–" if reference is None else f"{_fmt(reference, digits)} {unit}",
        ratio_text,
    )


def progress() -> Progress:
    """A rich progress bar for long steps (use as a context manager)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def percentile_ms(samples_s: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples_s, dtype=np.float64), q) * 1000.0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f} s")


@contextlib.contextmanager
def served(args: Sequence[str], *, log: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    """Run `python -m bench.serve ARGS --port P` in a subprocess; yield P while it listens."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.serve", *args, "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        try:
            try:
                wait_for_port(port, proc)
            except RuntimeError as exc:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{exc}; server log:\n{tail}") from None
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
