"""Walk-forward backtest of the risk model on ACLED Mali 2017-2020 and the 53 OCHA cercles."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from geo.index import ZoneIndex
from geo.measure import geodesic_area_km2
from geo.zones import zones_from_geojson
from incidents.interop.acled import acled_to_incidents
from incidents.risk.backtest import BacktestResult, run_backtest
from incidents.risk.model import RiskInputs, zone_neighbours

pytestmark = pytest.mark.realdata

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ACLED = DATA / "acled_mali_2017-2020.csv"
CERCLES = DATA / "mli_admbnda_adm2_1m_gov_20211220.geojson"
# Month-end steps January 2019 .. November 2020: a step dated d scores with what happened
# before d and is judged on [d, d + 30 days).
FIRST_STEP = date(2019, 2, 1)
LAST_STEP = date(2020, 12, 1)


@dataclass(frozen=True)
class MaliCase:
    inputs: RiskInputs
    zone_count: int
    zone_area_km2: np.ndarray
    neighbours: tuple[np.ndarray, np.ndarray]
    zone_names: list[str]


def load_mali_case(acled: Path = ACLED, cercles: Path = CERCLES) -> MaliCase:
    """ACLED events (deduplicated by the ACLED importer) as risk inputs over the cercles."""
    zones, _report = zones_from_geojson(json.loads(cercles.read_text(encoding="utf-8")))
    index = ZoneIndex([(z.code, z.geometry) for z in zones])
    rows = []
    with acled.open("rb") as fh:
        for result in acled_to_incidents(fh):
            if result.incident is not None:
                rows.append(result.incident)
    lon = np.array([r["geometry"]["coordinates"][0] for r in rows])
    lat = np.array([r["geometry"]["coordinates"][1] for r in rows])
    when = [datetime.fromisoformat(r["occurred_at"].replace("Z", "+00:00")) for r in rows]
    pair_incident, pair_zone = index.assign_points(lon, lat)
    inputs = RiskInputs(
        incident_ids=np.array([r["external_id"] for r in rows]),
        t_days=np.array([w.timestamp() / 86400.0 for w in when]),
        type_codes=np.array([r["type"] for r in rows]),
        severity=np.array([r["severity"] for r in rows]),
        reliability=np.array([r["reliability"] for r in rows]),
        credibility=np.array([r["credibility"] for r in rows]),
        status=np.array([r["status"] for r in rows]),
        pair_incident=pair_incident,
        pair_zone=pair_zone,
    )
    return MaliCase(
        inputs=inputs,
        zone_count=len(zones),
        zone_area_km2=np.array([geodesic_area_km2(z.geometry) for z in zones]),
        neighbours=zone_neighbours([z.geometry for z in zones]),
        zone_names=[z.name_fr for z in zones],
    )


def run_mali_backtest(case: MaliCase) -> BacktestResult:
    return run_backtest(
        case.inputs,
        zone_count=case.zone_count,
        zone_area_km2=case.zone_area_km2,
        neighbours=case.neighbours,
        start=FIRST_STEP,
        end=LAST_STEP,
        horizon_days=30,
        k=10,
    )


@pytest.fixture(name="result", scope="module")
def fx_result() -> BacktestResult:
    if not (ACLED.is_file() and CERCLES.is_file()):
        pytest.skip(f"real Mali data not found in {DATA} (ACLED export and OCHA cercles)")
    return run_mali_backtest(load_mali_case())


def test_covers_the_23_month_ends_of_2019_2020(result: BacktestResult) -> None:
    assert len(result.steps) == 23
    assert result.steps[0] == FIRST_STEP
    assert result.steps[-1] == LAST_STEP


@pytest.mark.parametrize("baseline", ["last_30_days", "last_90_days", "last_180_days"])
def test_the_level_score_beats_baseline_on_both_means(
    result: BacktestResult, baseline: str
) -> None:
    # The headline: the score each cercle's level is cut from (default level basis: forecast).
    assert result.headline == "level_score"
    assert result.level_basis == "forecast"
    margin = result.margins()[baseline]
    assert margin.d_rho > 0, result.table()
    assert margin.d_top_k > 0, result.table()


@pytest.mark.parametrize("baseline", ["last_30_days", "last_90_days", "last_180_days"])
def test_model_beats_baseline_on_mean_rho(result: BacktestResult, baseline: str) -> None:
    assert result.methods["model"].mean_rho > result.methods[baseline].mean_rho, result.table()


@pytest.mark.parametrize("baseline", ["last_30_days", "last_90_days", "last_180_days"])
def test_model_beats_baseline_on_top_10_capture(result: BacktestResult, baseline: str) -> None:
    assert result.methods["model"].mean_top_k > result.methods[baseline].mean_top_k, result.table()


def test_serious_incidents_grow_more_frequent_with_the_level(result: BacktestResult) -> None:
    assert result.calibration_rises(), result.table()


def test_parameters_are_tuned_only_on_steps_already_judged(result: BacktestResult) -> None:
    assert all(c["training_steps"] > 0 for c in result.chosen)
    counts = [c["training_steps"] for c in result.chosen]
    assert counts == sorted(counts)
