"""The dependency direction geo <- incidents <- alerts <- api holds, and pure modules stay pure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", 0 broken" in result.stdout
    # Every contract of pyproject.toml ran: layers, the subpackage orders, purity.
    declared = (
        (ROOT / "pyproject.toml")
        .read_text(encoding="utf-8")
        .count("[[tool.importlinter.contracts]]")
    )
    assert declared >= 5
    assert f"Contracts: {declared} kept, 0 broken" in result.stdout
