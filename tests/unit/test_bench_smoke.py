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

SHAPE = {"value", "unit", "reference", "ratio", "generator", "load"}


def test_record_stores_the_results_json_shape_and_the_ratio_to_the_reference() -> None:
    results: dict[str, Any] = {}
    row = harness.record(results, "x.rate", 50.0, "req/s", reference=200.0, target="≥ 0.35")
    expected = {"value": 50.0, "unit": "req/s", "reference": 200.0, "ratio": 0.25}
    assert {k: results["x.rate"][k] for k in expected} == expected
    assert set(results["x.rate"]) == SHAPE
    assert row[0] == "x.rate"
    assert "0.25 against 200 req/s" in row[3]  # every ratio prints its reference beside it


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


def test_each_entry_keeps_the_load_generator_and_the_machine_load() -> None:
    results: dict[str, Any] = {}
    harness.record(results, "x.rps", 900.0, "req/s", reference=1000.0, generator=harness.WRK)
    harness.record(results, "x.near", 3.0, "ms", reference=2.0)
    assert results["x.rps"]["generator"] == "wrk"
    assert results["x.near"]["generator"] == harness.IN_PROCESS
    load = results["x.rps"]["load"]
    assert set(load) == {"loadavg_1m", "loadavg_5m", "loadavg_15m", "cpus"}
    assert load["cpus"] >= 1


def test_a_ratio_without_its_reference_is_refused() -> None:
    with pytest.raises(ValueError, match="needs the reference"):
        harness.record({}, "x.ratio", 1.0, "s", ratio=2.0)


def test_a_ratio_driven_by_the_python_load_generator_is_not_a_figure() -> None:
    results: dict[str, Any] = {}
    row = harness.record(
        results, "x.post_rps", 94.0, "req/s", reference=200.0, generator=harness.PYTHON_LOADGEN
    )
    harness.take_unmeasured()
    assert results["x.post_rps"]["value"] is None
    assert results["x.post_rps"]["ratio"] is None
    assert "wrk" in results["x.post_rps"]["unmeasurable"]
    assert "unmeasurable" in row[3]


def test_a_measure_declared_unmeasurable_makes_python_m_bench_exit_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import bench.__main__ as entry

    def run(results: dict[str, Any]) -> list[harness.Row]:
        return [
            harness.record(results, "fake.floor", 100.0, "req/s", generator=harness.WRK),
            harness.unmeasurable(
                "fake.rps", "no wrk on this machine", results=results, unit="req/s"
            ),
        ]

    fake = types.ModuleType("bench.bench_fake")
    fake.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench.bench_fake", fake)
    monkeypatch.setattr(entry, "discover", lambda only=(): ["bench.bench_fake"])
    out = tmp_path / "results.json"
    assert entry.main(["--output", str(out)]) != 0
    stored = json.loads(out.read_text())
    assert stored["fake.rps"]["unmeasurable"] == "no wrk on this machine"
    assert stored["fake.rps"]["value"] is None
    assert stored["fake.floor"]["generator"] == "wrk"
    assert {"generator", "load"} <= set(stored["fake.rps"])


def test_python_m_bench_exits_zero_when_every_measure_was_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import bench.__main__ as entry

    fake = types.ModuleType("bench.bench_fake")
    fake.run = lambda results: [harness.record(results, "fake.ms", 1.0, "ms", reference=2.0)]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench.bench_fake", fake)
    monkeypatch.setattr(entry, "discover", lambda only=(): ["bench.bench_fake"])
    assert entry.main(["--output", str(tmp_path / "results.json")]) == 0
