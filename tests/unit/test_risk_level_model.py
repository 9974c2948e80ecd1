"""The level cut from the 30-day forecast (level_basis "forecast"), its floor, and the errors."""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from typing import Any

import numpy as np
import pytest

from incidents.errors import InvalidField
from incidents.risk.backtest import (
    LEVEL_SCORE,
    MODEL,
    RISK_SCORE,
    Margin,
    MethodScores,
    Tuning,
    block_bootstrap_se,
    run_backtest,
)
from incidents.risk.model import (
    FORECAST_THRESHOLDS,
    LEVEL_MEANINGS,
    WEIGHTED_THRESHOLDS,
    RiskConfig,
    RiskInputs,
    ZoneRisk,
    forecast_level_config,
    score_zones,
    weighted_level_config,
)
from tests.unit.test_risk import CERCLE_KM2, DESERT_KM2, NOW, make_inputs

ONE_HALF_LIFE = RiskConfig(half_lives_days=(30.0,), half_life_shares=(1.0,), spillover=0.0)
FORECAST = forecast_level_config(ONE_HALF_LIFE)
WEIGHTED = weighted_level_config(ONE_HALF_LIFE)
PER_PERIOD = 30.0 / (30.0 / math.log(2) * (1 - 2 ** (-730 / 30)))
MINOR = {"type": "theft", "severity": 2}


def score(
    rows: list[dict[str, Any]],
    *,
    config: RiskConfig = FORECAST,
    areas: tuple[float, ...] = (CERCLE_KM2,),
    **kwargs: Any,
) -> list[ZoneRisk]:
    return score_zones(
        make_inputs(rows),
        zone_count=len(areas),
        zone_area_km2=np.array(areas),
        now_days=NOW,
        config=config,
        **kwargs,
    )


def test_forecast_config_uses_the_forecast_thresholds() -> None:
    assert FORECAST.level_basis == "forecast"
    assert FORECAST.thresholds == FORECAST_THRESHOLDS
    assert FORECAST.half_lives_days == (30.0,)  # the rest of the base is kept


def test_the_default_level_is_cut_from_the_forecast() -> None:
    default = RiskConfig()
    assert default.level_basis == "forecast"
    assert default.thresholds == FORECAST_THRESHOLDS
    assert default.level_meaning == LEVEL_MEANINGS["forecast"]


def test_the_weighted_basis_keeps_its_own_thresholds_and_meaning() -> None:
    assert WEIGHTED.level_basis == "weighted"
    assert WEIGHTED.thresholds == WEIGHTED_THRESHOLDS
    assert WEIGHTED.half_lives_days == (30.0,)
    # Two bases, two meanings: stored levels of one are re-baselined under the other.
    assert WEIGHTED.level_meaning != FORECAST.level_meaning


def test_an_unknown_level_basis_is_refused() -> None:
    with pytest.raises(InvalidField) as err:
        RiskConfig(level_basis="density")
    assert err.value.field == "level_basis"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"serious_floor_days": -1.0}, "serious_floor_days"),
        ({"serious_severity": 6}, "serious_severity"),
    ],
)
def test_bad_floor_settings_name_their_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as err:
        RiskConfig(**kwargs)
    assert err.value.field == field


def test_the_forecast_score_is_the_expected_number_of_incidents() -> None:
    rows = [{**MINOR, "age": float(a)} for a in (1, 5, 12, 40)]
    (zone,) = score(rows)
    assert zone.score == pytest.approx(zone.expected_incidents)
    assert zone.expected_incidents == pytest.approx(
        sum(2 ** (-a / 30) for a in (1, 5, 12, 40)) * PER_PERIOD
    )
    assert sum(zone.sub_scores.values()) == pytest.approx(zone.score)
    assert sum(c for _, c in zone.contributors) == pytest.approx(zone.score)


def test_every_type_counts_as_one_incident_in_the_forecast() -> None:
    ten_old = [{"age": 60.0 + i} for i in range(10)]  # older than the floor
    (attacks,) = score([{**r, "type": "armed_attack", "severity": 5} for r in ten_old])
    (protests,) = score([{**r, "type": "demonstration", "severity": 1} for r in ten_old])
    assert attacks.score == pytest.approx(protests.score)
    # ... while the weighted figure still puts the attacks far above the demonstrations.
    assert attacks.weighted_score > 10 * protests.weighted_score


def test_the_forecast_is_not_scaled_by_the_zone_area() -> None:
    rows = [{**MINOR, "age": 2.0, "zones": (0, 1)}]
    small, vast = score(rows, areas=(CERCLE_KM2, DESERT_KM2))
    assert small.score == pytest.approx(vast.score)
    assert (small.exposure, vast.exposure) == (1.0, pytest.approx(0.5))
    assert vast.weighted_score == pytest.approx(small.weighted_score * 0.5)


def test_weighted_score_is_the_weighted_basis_score() -> None:
    rows = [{"age": 3.0}, {"type": "ied", "severity": 5, "age": 20.0}, {**MINOR, "age": 9.0}]
    (forecast,) = score(rows, areas=(DESERT_KM2,))
    (weighted,) = score(rows, areas=(DESERT_KM2,), config=WEIGHTED)
    assert forecast.weighted_score == pytest.approx(weighted.score)
    assert weighted.weighted_score == pytest.approx(weighted.score)
    assert weighted.expected_incidents == pytest.approx(forecast.expected_incidents)


def test_a_fresh_serious_incident_keeps_a_quiet_zone_at_level_2() -> None:
    # A doubtful kidnapping report (D4: 0.5 x 0.4) forecasts 0.14 incidents: below level 2 ...
    row = {"type": "kidnapping", "severity": 5, "age": 1.0, "reliability": "D", "credibility": 4}
    (zone,) = score([row])
    assert zone.expected_incidents < FORECAST_THRESHOLDS[0]
    # ... but a serious incident in the last 30 days keeps the zone at level 2 at least.
    assert zone.serious_floor
    assert zone.score == FORECAST_THRESHOLDS[0]
    assert zone.level == 2
    (clear,) = score([{**row, "age": 31.0}])
    assert (clear.serious_floor, clear.level) == (False, 1)


def test_the_floor_lifts_to_the_level_2_threshold_only() -> None:
    config = dataclasses.replace(FORECAST, thresholds=(3.0, 4.0, 5.0, 6.0))
    (zone,) = score([{"type": "kidnapping", "severity": 5, "age": 1.0}], config=config)
    assert zone.serious_floor
    assert zone.score == 3.0
    assert zone.level == 2


@pytest.mark.parametrize(
    "row",
    [
        {"type": "kidnapping", "severity": 5, "age": 31.0},  # older than serious_floor_days
        {"type": "theft", "severity": 3, "age": 1.0},  # not serious
        {"type": "kidnapping", "severity": 5, "age": 1.0, "status": "retracted"},
        {"type": "kidnapping", "severity": 5, "age": -1.0},  # not yet happened
    ],
)
def test_no_floor_without_a_recent_serious_incident_that_counts(row: dict[str, Any]) -> None:
    config = dataclasses.replace(FORECAST, thresholds=(3.0, 4.0, 5.0, 6.0))
    (zone,) = score([row], config=config)
    assert not zone.serious_floor
    assert zone.score == pytest.approx(zone.expected_incidents)
    assert zone.level == 1


def test_the_floor_can_be_switched_off() -> None:
    config = dataclasses.replace(FORECAST, serious_floor_days=0.0, thresholds=(3.0, 4.0, 5.0, 6.0))
    (zone,) = score([{"type": "kidnapping", "severity": 5, "age": 1.0}], config=config)
    assert (zone.serious_floor, zone.level) == (False, 1)


def test_the_floor_does_not_spill_over_to_neighbours() -> None:
    config = dataclasses.replace(FORECAST, spillover=0.5, thresholds=(3.0, 4.0, 5.0, 6.0))
    here, there = score(
        [{"type": "kidnapping", "severity": 5, "age": 1.0}],
        config=config,
        areas=(CERCLE_KM2, CERCLE_KM2),
        neighbours=(np.array([0, 1]), np.array([1, 0])),
    )
    assert here.serious_floor
    assert not there.serious_floor
    assert there.expected_incidents == pytest.approx(0.5 * here.expected_incidents)


def test_more_incidents_expected_means_a_higher_level() -> None:
    levels = [score([{**MINOR, "age": 1.0 + i} for i in range(n)])[0].level for n in range(0, 16)]
    assert levels == sorted(levels)
    assert (levels[0], levels[-1]) == (1, 5)


def test_hysteresis_applies_to_the_forecast_level() -> None:
    # One incident today: ln 2 = 0.69 expected incidents (level 2, below 0.75).
    (fresh,) = score([{**MINOR, "age": 0.0}])
    (held,) = score([{**MINOR, "age": 0.0}], previous_levels=np.array([3]))
    assert fresh.score == pytest.approx(math.log(2), rel=1e-6)
    assert (fresh.level, held.level) == (2, 3)  # 0.69 >= 0.75 x 0.8: stays at 3
    (dropped,) = score([{**MINOR, "age": 10.0}], previous_levels=np.array([3]))
    assert dropped.score < 0.6  # 0.55: comes down
    assert dropped.level == 2


def test_six_armed_attacks_in_a_week_make_a_quiet_town_notable() -> None:
    # Reports whose source and credibility cannot be judged (F6: 0.36 each), 1 to 6 days old.
    rows = [
        {"age": float(d), "severity": 5, "reliability": "F", "credibility": 6} for d in range(1, 7)
    ]
    (town,) = score(rows, config=forecast_level_config())
    assert town.level >= 3


# --- the backtest's errors -----------------------------------------------------------------


def test_block_bootstrap_of_a_constant_has_no_error() -> None:
    assert block_bootstrap_se(np.full(12, 0.7)) == pytest.approx(0.0, abs=1e-12)


def test_block_bootstrap_is_close_to_the_plain_error_for_independent_steps() -> None:
    x = np.random.default_rng(3).normal(size=400)
    plain = x.std(ddof=1) / math.sqrt(len(x))
    assert block_bootstrap_se(x, block=1) == pytest.approx(plain, rel=0.1)
    assert block_bootstrap_se(x) == pytest.approx(plain, rel=0.2)


def test_block_bootstrap_is_reproducible_and_skips_missing_steps() -> None:
    x = np.array([0.1, 0.5, np.nan, 0.3, 0.9, 0.2])
    assert block_bootstrap_se(x) == block_bootstrap_se(x)
    assert math.isfinite(block_bootstrap_se(x))
    assert math.isnan(block_bootstrap_se(np.array([0.4])))


def test_a_margin_is_the_mean_of_the_step_differences() -> None:
    a = MethodScores("a", np.array([0.7, 0.8, 0.6, 0.9]), np.array([0.5, 0.6, 0.7, 0.8]))
    b = MethodScores("b", np.array([0.6, 0.8, 0.5, 0.7]), np.array([0.5, 0.5, 0.6, 0.6]))
    g = Margin.of(a, b)
    diff = np.array([0.1, 0.0, 0.1, 0.2])
    assert g.d_rho == pytest.approx(diff.mean())
    assert g.se_rho == pytest.approx(diff.std(ddof=1) / 2)
    assert (g.better_rho, g.better_top_k, g.steps) == (3, 3, 4)
    assert g.error_rho == max(g.se_rho, g.block_se_rho)
    assert g.ahead
    assert g.ahead_by_one_se is (g.d_rho > g.error_rho and g.d_top_k > g.error_top_k)


# --- calibration stays monotone --------------------------------------------------------------


def _day(d: date) -> float:
    return float((d - date(1970, 1, 1)).days)


def steady_zones(zones: int = 40, seed: int = 11) -> RiskInputs:
    """Zone z has about z/10 incidents a month for three years; half of them serious."""
    rng = np.random.default_rng(seed)
    start, span = _day(date(2018, 1, 1)), 1100.0
    days: list[float] = []
    where: list[int] = []
    for z in range(zones):
        n = rng.poisson(z / 10 / 30 * span)
        days.extend((start + rng.random(n) * span).tolist())
        where.extend([z] * n)
    n = len(days)
    return RiskInputs(
        incident_ids=np.arange(n),
        t_days=np.array(days),
        type_codes=np.full(n, "armed_attack"),
        severity=np.where(rng.random(n) < 1 / 2, 4, 2),
        reliability=np.full(n, "A"),
        credibility=np.full(n, 1),
        status=np.full(n, "reported"),
        pair_incident=np.arange(n),
        pair_zone=np.array(where),
    )


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_calibration_rises_with_the_forecast_level(seed: int) -> None:
    result = run_backtest(
        steady_zones(seed=seed),
        zone_count=40,
        zone_area_km2=np.full(40, 5_000.0),
        neighbours=None,
        start=date(2019, 1, 1),
        end=date(2020, 12, 1),
        k=10,
        config=forecast_level_config(),
        tuning=Tuning(half_life_ladder=(15.0, 60.0, 365.0)),
    )
    assert result.level_basis == "forecast"
    assert all(row.zone_steps > 0 for row in result.calibration), result.table()
    assert result.calibration_rises(), result.table()
    # The headline is the score the level is cut from; here it ranks like the expected count.
    assert result.methods[LEVEL_SCORE].mean_rho == pytest.approx(
        result.methods[MODEL].mean_rho, abs=0.05
    )
    assert RISK_SCORE in result.methods
