"""The bench harness runs at toy sizes and fills the results.json shape (no timing checks)."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest

from bench import harness
from bench.__main__ import discover, load_results, run_module, write_results
from bench.bench_incidents import measure_import, measure_post
from bench.bench_reads import measure_near, near_dataset

SHAPE = {"value", "unit", "reference", "ratio"}


def test_record_stores_the_results_json_shape_and_the_ratio_to_the_reference() -> None:
    results: dict[str, Any] = {}
    row = harness.record(results, "x.rate", 50.0, "req/s", reference=200.0, target="≥ 0.35")
    expected = {"value": 50.0, "unit": "req/s", "reference": 200.0, "ratio": 0.25}
    assert results == {"x.rate": expected}
    assert row[0] == "x.rate"
    assert "0.25" in row[3]


def test_record_without_reference_has_no_ratio() -> None:
    results: dict[str, Any] = {}
    harness.record(results, "x.floor", 10.0, "rows/s")
    assert results["x.floor"]["reference"] is None
    assert results["x.floor"]["ratio"] is None


def test_discover_finds_the_incident_bench_and_refuses_unknown_names() -> None:
    assert "bench.bench_incidents" in discover()
    assert discover(["incidents"]) == ["bench.bench_incidents"]
    with pytest.raises(SystemExit, match="no bench module bench_nonesuch"):
        discover(["nonesuch"])


def test_run_module_passes_quick_only_to_modules_that_accept_it() -> None:
    seen: dict[str, Any] = {}

    def run_with_quick(results: dict[str, Any], *, quick: bool = False) -> list[harness.Row]:
        seen["quick"] = quick
        return [harness.record(results, "a", 1.0, "s")]

    def run_plain(results: dict[str, Any]) -> list[harness.Row]:
        return [harness.record(results, "b", 2.0, "s")]

    harness.OPTIONS.quick = True
    try:
        results: dict[str, Any] = {}
        run_module(types.SimpleNamespace(run=run_with_quick), results)  # type: ignore[arg-type]
        run_module(types.SimpleNamespace(run=run_plain), results)  # type: ignore[arg-type]
    finally:
        harness.OPTIONS.quick = False
    assert seen == {"quick": True}
    assert set(results) == {"a", "b"}


def test_results_file_keeps_figures_of_modules_not_rerun(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_results(
        path, {"zones.assign_rate": {"value": 1, "unit": "u", "reference": None, "ratio": None}}
    )
    results = load_results(path)
    results.update(
        {"incidents.import_rate": {"value": 2, "unit": "u", "reference": 4, "ratio": 0.5}}
    )
    write_results(path, results)
    assert set(json.loads(path.read_text())) == {"zones.assign_rate", "incidents.import_rate"}


def test_import_bench_stores_every_row_and_reports_rate_and_floor() -> None:
    results: dict[str, Any] = {}
    rows = measure_import(results, count=300)
    assert {"incidents.import_rate", "incidents.sqlite_floor_rows_per_s"} <= set(results)
    assert all(set(v) == SHAPE for v in results.values())
    assert results["incidents.import_rate"]["value"] > 0
    assert len(rows) == 2


def test_near_bench_builds_caches_and_queries_a_dataset(tmp_path: Path) -> None:
    results: dict[str, Any] = {}
    measure_near(results, sizes=(400,), points=4, directory=tmp_path)
    assert set(results) == {"incidents.near_median_ms.400", "incidents.near_p95_ms.400"}
    assert results["incidents.near_median_ms.400"]["reference"] is not None
    _, first = near_dataset(400, directory=tmp_path)
    _, again = near_dataset(400, directory=tmp_path)
    assert first["now"] == again["now"]  # reused, not rebuilt


def test_post_bench_drives_both_servers_without_errors() -> None:
    results: dict[str, Any] = {}
    measure_post(results, seconds=1.0, connections=2, idempotent=False)
    assert {"incidents.http_floor_rps", "incidents.post_rps", "incidents.post_errors"} <= set(
        results
    )
    assert results["incidents.post_rps"]["value"] > 0
    assert results["incidents.post_errors"]["value"] == 0  # every generated body is valid
