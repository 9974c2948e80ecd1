"""The POST bench cannot lie: without wrk, or with a saturated load generator, it reports no
throughput ratio and the bench run fails, pointing at how to install wrk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import bench.__main__ as bench_main
from bench import bench_incidents
from bench.harness import Row


def test_without_wrk_no_ratio_is_reported_and_the_run_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench_incidents.shutil, "which", lambda name: None)

    def small_import(results: dict[str, Any], *, count: int = 0) -> list[Row]:
        return [bench_incidents.record(results, "incidents.import_rate", 1.0, "incidents/s")]

    monkeypatch.setattr(bench_incidents, "measure_import", small_import)
    output = tmp_path / "results.json"
    code = bench_main.main(["--only", "incidents", "--quick", "--output", str(output)])
    assert code != 0, "a POST figure without wrk must fail the run"
    printed = capsys.readouterr().out
    assert "apt-get install -y wrk" in printed
    saved = json.loads(output.read_text()) if output.exists() else {}
    for measure in ("incidents.post_rps", "incidents.post_idempotent_rps"):
        entry = saved.get(measure)
        assert entry is None or (entry["ratio"] is None and entry["value"] is None)


def test_a_saturated_generator_gives_no_ratio() -> None:
    quiet = {"generator": 1.0, "generator_cpu": 0.3, "generator_threads": 2.0}
    busy = {"generator": 1.0, "generator_cpu": 1.9, "generator_threads": 2.0}
    python = {"generator": 0.0, "generator_cpu": 1.0, "generator_threads": 1.0}
    assert bench_incidents.generator_bound(quiet) is None
    assert "wrk kept 95%" in (bench_incidents.generator_bound(busy) or "")
    assert "apt-get install -y wrk" in (bench_incidents.generator_bound(python) or "")
