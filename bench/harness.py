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


# What drove the load of a measure: stored with each figure, so a ratio says what it is made of.
IN_PROCESS = "none (in-process calls)"
WRK = "wrk"
# The Python generator is itself the bottleneck above ~100 req/s (issue 15): smoke tests only.
PYTHON_LOADGEN = "bench.loadgen (Python, httpx)"
_unmeasured: list[tuple[str, str]] = []


def machine_load() -> dict[str, float]:
    """The machine's load at measure time: load averages and how many CPUs share it."""
    one, five, fifteen = os.getloadavg()
    return {
        "loadavg_1m": round(one, 2),
        "loadavg_5m": round(five, 2),
        "loadavg_15m": round(fifteen, 2),
        "cpus": float(os.cpu_count() or 1),
    }


def unmeasurable(
    measure: str,
    reason: str,
    *,
    results: dict[str, Any] | None = None,
    unit: str = "",
    generator: str = IN_PROCESS,
) -> Row:
    """Declare that `measure` could not be measured honestly (e.g. the load generator would be
    the bottleneck): `python -m bench` then exits non-zero. With `results`, its entry is stored
    there with no figure, the reason, the generator and the machine's load."""
    if results is not None:
        results[measure] = {
            "value": None,
            "unit": unit,
            "reference": None,
            "ratio": None,
            "unmeasurable": reason,
            "generator": generator,
            "load": machine_load(),
        }
    _unmeasured.append((measure, reason))
    return (measure, "not measured", "–", f"unmeasurable: {reason}")


def take_unmeasured() -> list[tuple[str, str]]:
    """The (measure, reason) pairs declared unmeasurable since the last call."""
    found = list(_unmeasured)
    _unmeasured.clear()
    return found


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
    generator: str = IN_PROCESS,
) -> Row:
    """Store one figure in `results` (the results.json shape) and return its printed table row.

    The ratio defaults to value / reference and is printed with its reference beside it; a ratio
    without a reference is refused. Each entry keeps the load generator and the machine's load
    at measure time. A ratio driven by the Python load generator is not a figure: it is stored
    as unmeasurable instead. `target` (e.g. "≥ 0.35") is only printed.
    """
    if ratio is not None and reference is None:
        raise ValueError(f"{measure}: a ratio needs the reference it was measured against")
    if generator == PYTHON_LOADGEN and reference is not None:
        return unmeasurable(
            measure,
            "driven by the Python load generator, which is the bottleneck: install wrk "
            "(apt-get install -y wrk) and run again",
            results=results,
            unit=unit,
            generator=generator,
        )
    if ratio is None and reference not in (None, 0):
        ratio = value / float(reference)  # type: ignore[arg-type]
    results[measure] = {
        "value": round(float(value), 4),
        "unit": unit,
        "reference": None if reference is None else round(float(reference), 4),
        "ratio": None if ratio is None else round(float(ratio), 4),
        "generator": generator,
        "load": machine_load(),
    }
    against = f" against {_fmt(reference, digits)} {unit}"
    ratio_text = "–" if ratio is None else f"{ratio:.2f}{against}"
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
