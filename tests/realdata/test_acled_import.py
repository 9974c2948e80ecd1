"""The real ACLED Mali export through `sentinelle incidents import`: every row accounted for."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from click.testing import CliRunner

from api.cli.main import main

ACLED_FILE = "acled_mali_2017-2020.csv"
COUNTS = re.compile(
    r"Rows read: (\d+) — created (\d+), updated (\d+), unchanged (\d+), duplicates (\d+), "
    r"rejected (\d+)"
)


def counts(stderr: str) -> dict[str, int]:
    match = COUNTS.search(stderr)
    assert match, stderr[-2000:]
    names = ("rows", "created", "updated", "unchanged", "duplicates", "rejected")
    return dict(zip(names, (int(g) for g in match.groups()), strict=True))


def test_acled_mali_export_imports_with_every_row_accounted_for(
    shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / ACLED_FILE
    with source.open(encoding="utf-8", newline="") as handle:
        data_rows = sum(1 for row in csv.reader(handle) if any(c.strip() for c in row)) - 1
    env = {
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'acled.db'}",
        "SENTINELLE_VAR_DIR": str(tmp_path / "var"),
        "SENTINELLE_DISPATCH_IN_PROCESS": "false",
    }
    runner = CliRunner()
    org = runner.invoke(main, ["admin", "create-org", "ACLED"], env=env).stdout.strip()

    first = runner.invoke(main, ["incidents", "import", str(source), "--org", org], env=env)
    again = runner.invoke(main, ["incidents", "import", str(source), "--org", org], env=env)

    assert first.exit_code == 0, first.output[-2000:]
    one, two = counts(first.stderr), counts(again.stderr)
    print(f"\nACLED Mali import: {one}\nre-import: {two}")
    assert one["rows"] == data_rows
    assert one["created"] + one["duplicates"] + one["rejected"] == data_rows
    assert one["created"] > 0
    assert two["created"] == 0
    assert two["updated"] == 0
    assert two["unchanged"] == one["created"]
