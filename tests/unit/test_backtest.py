"""Walk-forward backtest: measures, steps, no look-ahead, report and chart."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from incidents.errors import InvalidField
from incidents.risk.backtest import (
    BacktestResult,
    CalibrationRow,
    Tuning,
    capture_top_k,
    fit_half_life_weights,
    plot_backtest,
    run_backtest,
    spearman,
    step_dates,
    tune_config,
)
from incidents.risk.model import RiskConfig, RiskInputs

ZONES = 12
START = date(2019, 1, 1)
FIRST_STEP = date(2020, 1, 1)
LAST_STEP = date(2020, 6, 1)
SMALL_LADDER = Tuning(half_life_ladder=(15.0, 60.0, 365.0))


def _day(d: date) -> float:
    return float((d - date(1970, 1, 1)).days)


def synthetic_inputs(seed: int = 7, *, extra: list[tuple[float, int]] | None = None) -> RiskInputs:
    """Zones with steady but different rates (zone z: about z/3 incidents a month), 18 months."""
    rng = np.random.default_rng(seed)
    days, zones = [], []
    span = _day(LAST_STEP) + 31 - _day(START)
    for z in range(ZONES):
        n = rng.poisson(z / 3 / 30 * span)
        days.extend((_day(START) + rng.random(n) * span).tolist())
        zones.extend([z] * n)
    for t, z in extra or []:
        days.append(t)
        zones.append(z)
    n = len(days)
    sev = rng.integers(2, 6, n)
    return RiskInputs(
        incident_ids=np.arange(n),
        t_days=np.array(days),
        type_codes=np.full(n, "armed_attack"),
        severity=sev,
        reliability=np.full(n, "B"),
        credibility=np.full(n, 2),
        status=np.full(n, "reported"),
        pair_incident=np.arange(n),
        pair_zone=np.array(zones),
    )


def backtest(inputs: RiskInputs, **kwargs: object) -> BacktestResult:
    options: dict[str, object] = {
        "zone_count": ZONES,
        "zone_area_km2": np.full(ZONES, 5_000.0),
        "neighbours": None,
        "start": FIRST_STEP,
        "end": LAST_STEP,
        "k": 3,
        "tuning": SMALL_LADDER,
    }
    options.update(kwargs)
    return run_backtest(inputs, **options)  # type: ignore[arg-type]


@pytest.fixture(name="result", scope="module")
def fx_result() -> BacktestResult:
    return backtest(synthetic_inputs())


def test_spearman_uses_average_ranks_like_scipy() -> None:
    scores = np.array([[3.0, 1.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0, 1.0]])
    outcome = np.array([2.0, 0.0, 1.0, 0.0, 0.0])
    ours = spearman(scores, outcome)
    for row, value in zip(scores, ours, strict=True):
        assert value == pytest.approx(spearmanr(row, outcome).statistic)


def test_spearman_of_a_constant_score_is_undefined() -> None:
    assert np.isnan(spearman(np.ones(4), np.array([0.0, 1.0, 2.0, 3.0]))[0])


def test_top_k_capture_counts_the_best_scored_zones() -> None:
    assert capture_top_k(np.array([5.0, 4.0, 1.0, 0.0]), np.array([3.0, 1.0, 4.0, 2.0]), 2)[
        0
    ] == pytest.approx(0.4)


def test_top_k_capture_shares_places_between_tied_zones() -> None:
    # one sure place for zone 0, the second split between the three zones tied at 1.0
    capture = capture_top_k(np.array([2.0, 1.0, 1.0, 1.0]), np.array([4.0, 3.0, 0.0, 3.0]), 2)[0]
    assert capture == pytest.approx((4.0 + (3.0 + 0.0 + 3.0) / 3) / 10.0)


def test_monthly_steps_are_the_first_of_each_month() -> None:
    assert step_dates(date(2019, 11, 15), date(2020, 2, 1)) == [
        date(2019, 12, 1),
        date(2020, 1, 1),
        date(2020, 2, 1),
    ]


def test_fixed_steps_every_n_days() -> None:
    assert step_dates(date(2020, 1, 1), date(2020, 1, 31), 15) == [
        date(2020, 1, 1),
        date(2020, 1, 16),
        date(2020, 1, 31),
    ]


def test_steps_refuse_an_end_before_the_start() -> None:
    with pytest.raises(InvalidField) as err:
        step_dates(date(2020, 2, 1), date(2020, 1, 1))
    assert err.value.field == "end"


def test_result_has_every_method_for_every_step(result: BacktestResult) -> None:
    assert result.steps == step_dates(FIRST_STEP, LAST_STEP)
    assert set(result.methods) == {
        "level_score",
        "model",
        "risk_score",
        "last_30_days",
        "last_90_days",
        "last_180_days",
    }
    assert all(len(m.rho) == len(result.steps) for m in result.methods.values())


def test_with_steady_rates_the_model_ranks_better_than_last_month(result: BacktestResult) -> None:
    assert result.methods["model"].mean_rho > result.methods["last_30_days"].mean_rho


def test_every_zone_step_gets_a_level(result: BacktestResult) -> None:
    assert sum(row.zone_steps for row in result.calibration) == ZONES * len(result.steps)


def test_incidents_inside_the_judged_period_do_not_change_the_choice() -> None:
    burst = [(_day(FIRST_STEP) + 1.0, 0)] * 40  # a burst right after the first step
    plain = backtest(synthetic_inputs())
    with_burst = backtest(synthetic_inputs(extra=burst))
    assert with_burst.chosen[0] == plain.chosen[0]
    assert with_burst.methods["model"].rho[0] != plain.methods["model"].rho[0]


def test_the_future_beyond_the_horizon_does_not_change_a_step() -> None:
    later = [(_day(LAST_STEP) + 10.0, z) for z in range(ZONES)] * 5
    plain = backtest(synthetic_inputs(), end=FIRST_STEP)
    with_later = backtest(synthetic_inputs(extra=later), end=FIRST_STEP)
    for name, method in plain.methods.items():
        assert method.rho[0] == with_later.methods[name].rho[0]
        assert method.top_k[0] == with_later.methods[name].top_k[0]


def test_table_and_dict_report_the_same_means(result: BacktestResult) -> None:
    table = result.table()
    as_dict = json.loads(json.dumps(result.to_dict()))
    model = as_dict["methods"]["model"]
    assert f"{model['mean_rho']:.3f}" in table
    assert "last 180 days" in table
    assert len(as_dict["calibration"]) == 5
    assert as_dict["headline"] == "level_score"
    assert as_dict["methods"]["level_score"]["role"] == "headline"
    assert as_dict["methods"]["model"]["role"] == "side"
    assert f"{as_dict['methods']['level_score']['se_rho']:.3f}" in table
    assert set(as_dict["margins"]) == {"last_30_days", "last_90_days", "last_180_days"}


@pytest.mark.parametrize(
    ("shares", "rises"),
    [((0.05, 0.2, 0.5, 0.8, 0.95), True), ((0.05, 0.3, 0.2, 0.8, 0.95), False)],
)
def test_calibration_must_rise_with_the_level(shares: tuple[float, ...], rises: bool) -> None:
    rows = [CalibrationRow(level, 100, round(s * 100)) for level, s in enumerate(shares, 1)]
    rows.append(CalibrationRow(6, 0, 0))  # a level without data is skipped
    result = BacktestResult(steps=[FIRST_STEP], horizon_days=30, k=3, methods={}, calibration=rows)
    assert result.calibration_rises() is rises


def test_plot_writes_a_png(result: BacktestResult, tmp_path: Path) -> None:
    path = tmp_path / "backtest.png"
    plot_backtest(result, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_backtest_without_incidents_is_refused() -> None:
    empty = RiskInputs(
        incident_ids=np.array([]),
        t_days=np.array([]),
        type_codes=np.array([], dtype=str),
        severity=np.array([], dtype=int),
        reliability=np.array([], dtype=str),
        credibility=np.array([], dtype=int),
        status=np.array([], dtype=str),
        pair_incident=np.array([], dtype=np.intp),
        pair_zone=np.array([], dtype=np.intp),
    )
    with pytest.raises(InvalidField):
        backtest(empty)


def test_the_fit_recovers_the_weights_that_generated_the_counts() -> None:
    rng = np.random.default_rng(3)
    features = rng.gamma(2.0, 1.0, size=(4000, 2))
    counts = rng.poisson(features @ np.array([0.3, 1.2]))
    weights = fit_half_life_weights(features, counts, iterations=2000)
    assert weights == pytest.approx([0.3, 1.2], rel=0.1)


def test_the_fit_gives_no_weight_without_outcomes() -> None:
    assert fit_half_life_weights(np.ones((5, 3)), np.zeros(5)).tolist() == [0.0, 0.0, 0.0]


def test_tune_config_fits_shares_over_the_ladder() -> None:
    tuned = tune_config(synthetic_inputs(), zone_count=ZONES, now=LAST_STEP, tuning=SMALL_LADDER)
    assert set(tuned.half_lives_days) <= set(SMALL_LADDER.half_life_ladder)
    assert sum(tuned.half_life_shares) == pytest.approx(1.0)
    assert tuned.thresholds == RiskConfig().thresholds


def test_tune_config_without_history_keeps_the_given_configuration() -> None:
    base = RiskConfig(half_lives_days=(42.0,), half_life_shares=(1.0,))
    assert tune_config(synthetic_inputs(), zone_count=ZONES, now=START, config=base) is base
