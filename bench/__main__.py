"""`python -m bench [--only NAME] [--quick]`: run bench modules, print tables, write results."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.table import Table

from bench import harness


def discover(only: Sequence[str] = ()) -> list[str]:
    """Module names `bench.bench_*` in file order; `only` keeps those named (prefix optional)."""
    names = sorted(p.stem for p in harness.BENCH_DIR.glob("bench_*.py"))
    if only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in only}
        unknown = wanted - set(names)
        if unknown:
            raise SystemExit(
                f"--only: no bench module {', '.join(sorted(unknown))}; "
                f"choose from {', '.join(n.removeprefix('bench_') for n in names)}."
            )
        names = [n for n in names if n in wanted]
    return [f"bench.{n}" for n in names]


def load_results(path: Path) -> dict[str, Any]:
    """Earlier figures are kept, so that `--only x` refreshes x without losing the others."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def write_results(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(results.items())), indent=2, ensure_ascii=False) + "\n")


def run_module(module: ModuleType, results: dict[str, Any]) -> list[harness.Row]:
    """Call the module's `run(results)`, passing `quick=` too when it accepts it."""
    run = module.run
    kwargs: dict[str, Any] = {}
    if "quick" in inspect.signature(run).parameters:
        kwargs["quick"] = harness.quick()
    rows: list[harness.Row] = run(results, **kwargs)
    return rows


def table_of(title: str, rows: Sequence[harness.Row]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("reference (same run)", justify="right")
    table.add_column("ratio", justify="right")
    for row in rows:
        table.add_row(*row)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="Run only bench/bench_NAME.py (repeatable).",
    )
    parser.add_argument("--quick", action="store_true", help="Smaller sizes and shorter runs.")
    parser.add_argument(
        "--output",
        type=Path,
        default=harness.RESULTS,
        help="Where to write the figures (default bench/results.json).",
    )
    args = parser.parse_args(argv)
    harness.OPTIONS.quick = args.quick
    console = harness.console

    results = load_results(args.output)
    failed: list[str] = []
    unmeasured: list[tuple[str, str]] = []
    harness.take_unmeasured()
    for name in discover(args.only):
        console.rule(f"[bold]{name}")
        started = time.monotonic()
        module_results: dict[str, Any] = {}
        try:
            module = importlib.import_module(name)
            rows = run_module(module, module_results)
        except Exception:  # one broken bench must not hide the others' figures
            console.print(traceback.format_exc())
            failed.append(name)
            harness.take_notes()
            unmeasured += harness.take_unmeasured()
            continue
        unmeasured += harness.take_unmeasured()
        results.update(module_results)
        write_results(args.output, results)
        console.print(table_of(f"{name} ({time.monotonic() - started:.0f} s)", rows))
        for line in harness.take_notes():
            console.print(f"  • {line}", highlight=False)
    console.print(f"Figures written to {args.output}")
    for measure, reason in unmeasured:
        console.print(f"[red]Not measured honestly: {measure}: {reason}", highlight=False)
    if failed:
        console.print(f"[red]Failed: {', '.join(failed)}")
    return 1 if failed or unmeasured else 0


if __name__ == "__main__":
    sys.exit(main())
