"""Walk-forward backtest of the risk model against simple incident-count baselines."""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from incidents.errors import InvalidField
from incidents.risk.model import (
    RiskConfig,
    RiskInputs,
    confidence_weights,
    score_zones,
    zone_intensity,
)

__all__ = [
    "BASELINE_DAYS",
    "HEADLINE",
    "LEVEL_SCORE",
    "MODEL",
    "RISK_SCORE",
    "BacktestResult",
    "CalibrationRow",
    "Margin",
    "MethodScores",
    "Tuning",
    "block_bootstrap_se",
    "capture_top_k",
    "fit_half_life_weights",
    "method_label",
    "method_role",
    "plot_backtest",
    "run_backtest",
    "spearman",
    "step_dates",
    "tune_config",
]

FloatArray = npt.NDArray[np.float64]
EPOCH = date(1970, 1, 1)
BASELINE_DAYS = (30, 90, 180)
# The headline: the score each zone's level is cut from (ZoneRisk.score), ranked.
LEVEL_SCORE = "level_score"
HEADLINE = LEVEL_SCORE
# Side figures: the expected incidents (ZoneRisk.expected_incidents) and the risk-weighted score
# per exposure (ZoneRisk.weighted_score); either may or may not be what sets the level.
MODEL = "model"
RISK_SCORE = "risk_score"
# Standard errors of means over steps: across steps as if independent, and by a moving-block
# bootstrap (blocks of BLOCK_STEPS consecutive steps: months next to each other are alike).
BLOCK_STEPS = 3
BOOTSTRAP_DRAWS = 2000


@dataclass(frozen=True, slots=True)
class Tuning:
    """How the model is fitted at each step, from earlier steps only.

    The decay is a mix of the `half_life_ladder` memories whose weights are fitted by maximum
    likelihood (Poisson) on past (zone, period) counts: a self-exciting (Hawkes-type) intensity.
    `background` is the small rate added to every zone in the fit so that a zone with nothing
    behind it does not make the likelihood infinite.
    """

    half_life_ladder: tuple[float, ...] = (7.0, 15.0, 30.0, 60.0, 90.0, 180.0, 365.0, 730.0)
    spillover: float = 0.0
    background: float = 1e-3
    iterations: int = 500

    def __post_init__(self) -> None:
        if not self.half_life_ladder or min(self.half_life_ladder) <= 0:
            raise InvalidField("half_life_ladder", "give at least one positive half-life")
        if self.spillover < 0:
            raise InvalidField("spillover", "spill-over must be >= 0")
        if self.background <= 0:
            raise InvalidField("background", "the background rate must be positive")


@dataclass(frozen=True, slots=True)
class MethodScores:
    name: str
    rho: FloatArray
    top_k: FloatArray

    @property
    def mean_rho(self) -> float:
        return float(np.nanmean(self.rho))

    @property
    def mean_top_k(self) -> float:
        return float(np.nanmean(self.top_k))

    @property
    def se_rho(self) -> float:
        return _se(self.rho)

    @property
    def se_top_k(self) -> float:
        return _se(self.top_k)


def _se(values: FloatArray) -> float:
    """Standard error of the mean of the finite values (NaN with fewer than two)."""
    x = values[np.isfinite(values)]
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) >= 2 else float("nan")


def block_bootstrap_se(
    values: npt.ArrayLike,
    *,
    block: int = BLOCK_STEPS,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
) -> float:
    """Standard error of the mean by a moving-block bootstrap (fixed seed: reproducible).

    Resamples runs of `block` consecutive steps, so that the correlation between neighbouring
    months is kept; NaN steps are dropped first. NaN with fewer than two values.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 2:
        return float("nan")
    b = max(1, min(block, n))
    starts = np.random.default_rng(seed).integers(0, n - b + 1, size=(draws, -(-n // b)))
    idx = (starts[:, :, None] + np.arange(b)[None, None, :]).reshape(draws, -1)[:, :n]
    return float(x[idx].mean(axis=1).std(ddof=1))


@dataclass(frozen=True, slots=True)
class Margin:
    """One method against one baseline, step by step: mean differences and their errors.

    `se_*` treats the steps as independent, `block_se_*` is the moving-block bootstrap; `better_*`
    counts the steps where the method did better. `ahead_by_one_se` uses the larger error.
    """

    method: str
    baseline: str
    d_rho: float
    se_rho: float
    block_se_rho: float
    better_rho: int
    d_top_k: float
    se_top_k: float
    block_se_top_k: float
    better_top_k: int
    steps: int

    @classmethod
    def of(cls, method: MethodScores, baseline: MethodScores) -> Margin:
        dr = method.rho - baseline.rho
        dt = method.top_k - baseline.top_k
        return cls(
            method=method.name,
            baseline=baseline.name,
            d_rho=float(np.nanmean(dr)),
            se_rho=_se(dr),
            block_se_rho=block_bootstrap_se(dr),
            better_rho=int((dr > 0).sum()),
            d_top_k=float(np.nanmean(dt)),
            se_top_k=_se(dt),
            block_se_top_k=block_bootstrap_se(dt),
            better_top_k=int((dt > 0).sum()),
            steps=int((np.isfinite(dr) & np.isfinite(dt)).sum()),
        )

    @property
    def error_rho(self) -> float:
        return float(np.nanmax([self.se_rho, self.block_se_rho]))

    @property
    def error_top_k(self) -> float:
        return float(np.nanmax([self.se_top_k, self.block_se_top_k]))

    @property
    def ahead(self) -> bool:
        return self.d_rho > 0 and self.d_top_k > 0

    @property
    def ahead_by_one_se(self) -> bool:
        return self.d_rho > self.error_rho and self.d_top_k > self.error_top_k

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "baseline": self.baseline,
            "d_rho": self.d_rho,
            "se_rho": self.se_rho,
            "block_se_rho": self.block_se_rho,
            "better_rho": self.better_rho,
            "d_top_k": self.d_top_k,
            "se_top_k": self.se_top_k,
            "block_se_top_k": self.block_se_top_k,
            "better_top_k": self.better_top_k,
            "steps": self.steps,
            "ahead": self.ahead,
            "ahead_by_one_se": self.ahead_by_one_se,
        }


@dataclass(frozen=True, slots=True)
class CalibrationRow:
    level: int
    zone_steps: int
    serious: int

    @property
    def share(self) -> float:
        return self.serious / self.zone_steps if self.zone_steps else float("nan")


@dataclass
class BacktestResult:
    """Per-step and mean figures of the model and the baselines; see docs/risk.md."""

    steps: list[date]
    horizon_days: int
    k: int
    methods: dict[str, MethodScores]
    calibration: list[CalibrationRow]
    chosen: list[dict[str, Any]] = field(default_factory=list)
    level_basis: str = "weighted"
    headline: str = HEADLINE

    def method_names(self) -> list[str]:
        return list(self.methods)

    def baselines(self) -> list[str]:
        return [name for name in self.methods if name.startswith("last_")]

    def margins(self, method: str | None = None) -> dict[str, Margin]:
        """`method` (default: the headline, the level's score) against each baseline."""
        m = self.methods[method or self.headline]
        return {name: Margin.of(m, self.methods[name]) for name in self.baselines()}

    def best_baseline(self) -> str:
        """The baseline with the highest mean rho + top-k capture."""
        return max(
            self.baselines(),
            key=lambda n: self.methods[n].mean_rho + self.methods[n].mean_top_k,
        )

    def beats_baselines(self, method: str | None = None) -> bool:
        """The headline (or `method`) ahead of every baseline on both means."""
        return all(m.ahead for m in self.margins(method).values())

    def beats_baselines_by_one_se(self, method: str | None = None) -> bool:
        """Ahead of every baseline on both means by more than the larger standard error."""
        return all(m.ahead_by_one_se for m in self.margins(method).values())

    def calibration_rises(self) -> bool:
        """True when the serious-incident share grows with the level (levels with data only)."""
        shares = [row.share for row in self.calibration if row.zone_steps]
        return all(b > a for a, b in itertools.pairwise(shares))

    def table(self) -> str:
        first, last = self.steps[0], self.steps[-1]
        lines = [
            f"Walk-forward backtest, {len(self.steps)} steps from {first} to {last}, "
            f"horizon {self.horizon_days} days, top {self.k} zones, level basis "
            f"{self.level_basis}",
            "",
            f"{'method':<46} {'mean rho':>14} {'top-' + str(self.k) + ' capture':>16}",
        ]
        for name, m in self.methods.items():
            lines.append(
                f"{method_label(name):<46} {m.mean_rho:>7.3f} ± {m.se_rho:.3f}"
                f" {m.mean_top_k:>8.3f} ± {m.se_top_k:.3f}"
            )
        lines += ["", "level score minus each baseline (± larger of step SE, block-bootstrap SE)"]
        for name, g in self.margins().items():
            lines.append(
                f"{method_label(name):<46} {g.d_rho:>+7.3f} ± {g.error_rho:.3f}"
                f" {g.d_top_k:>+8.3f} ± {g.error_top_k:.3f}"
            )
        lines += ["", f"{'level':<16} {'zone-steps':>10} {'with a serious incident':>24}"]
        for row in self.calibration:
            share = f"{row.share:.1%}" if row.zone_steps else "-"
            lines.append(f"{row.level:<16} {row.zone_steps:>10} {share:>24}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": [d.isoformat() for d in self.steps],
            "horizon_days": self.horizon_days,
            "k": self.k,
            "level_basis": self.level_basis,
            "headline": self.headline,
            "methods": {
                name: {
                    "label": method_label(name),
                    "role": method_role(name),
                    "mean_rho": m.mean_rho,
                    "mean_top_k": m.mean_top_k,
                    "se_rho": m.se_rho,
                    "se_top_k": m.se_top_k,
                    "rho": [float(x) for x in m.rho],
                    "top_k": [float(x) for x in m.top_k],
                }
                for name, m in self.methods.items()
            },
            "margins": {name: g.to_dict() for name, g in self.margins().items()},
            "best_baseline": self.best_baseline(),
            "beats_baselines": self.beats_baselines(),
            "beats_baselines_by_one_se": self.beats_baselines_by_one_se(),
            "calibration": [
                {
                    "level": r.level,
                    "zone_steps": r.zone_steps,
                    "serious": r.serious,
                    "share": None if not r.zone_steps else r.share,
                }
                for r in self.calibration
            ],
            "chosen": self.chosen,
        }


def method_label(name: str) -> str:
    """How a method is named in tables, the chart and the API."""
    if name == LEVEL_SCORE:
        return "level score (what sets the level)"
    if name == MODEL:
        return "expected incidents (side figure)"
    if name == RISK_SCORE:
        return "weighted score per exposure (side figure)"
    return name.replace("_", " ")


def method_role(name: str) -> str:
    """ "headline" (the level's score), "side" (other figures shown) or "baseline"."""
    if name == LEVEL_SCORE:
        return "headline"
    return "baseline" if name.startswith("last_") else "side"


def spearman(scores: npt.ArrayLike, outcome: npt.ArrayLike) -> FloatArray:
    """Spearman rho of each row of `scores` with `outcome`, average ranks for ties.

    NaN for a row (or an outcome) with no variation, like scipy.stats.spearmanr.
    """
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    rs = rankdata(s, axis=1)
    ry = rankdata(np.asarray(outcome, dtype=np.float64))
    rs = rs - rs.mean(axis=1, keepdims=True)
    ry = ry - ry.mean()
    den = np.sqrt((rs**2).sum(axis=1) * (ry**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rs @ ry) / np.where(den > 0, den, 1.0), np.nan)


def capture_top_k(scores: npt.ArrayLike, outcome: npt.ArrayLike, k: int) -> FloatArray:
    """Share of the outcome in the k best-scored zones, per row of `scores`.

    Zones tied at the k-th place share the remaining places (the expected share if the tie were
    broken at random), so a baseline full of ties is neither favoured nor penalised.
    """
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    y = np.asarray(outcome, dtype=np.float64)
    total = y.sum()
    k = min(k, s.shape[1])
    if total <= 0 or k <= 0:
        return np.full(s.shape[0], np.nan)
    kth = -np.partition(-s, k - 1, axis=1)[:, k - 1 : k]
    above = s > kth
    tied = s == kth
    room = (k - above.sum(axis=1)) / tied.sum(axis=1)
    out: FloatArray = ((above * y).sum(axis=1) + room * (tied * y).sum(axis=1)) / total
    return out


def step_dates(start: date, end: date, step_days: int | None = None) -> list[date]:
    """Step dates from start to end inclusive; `step_days` None means the 1st of each month."""
    if end < start:
        raise InvalidField("end", "the end date must not be before the start date")
    if step_days is not None:
        if step_days <= 0:
            raise InvalidField("step_days", "give a positive number of days between steps")
        n = (end - start).days // step_days
        return [start + timedelta(days=i * step_days) for i in range(n + 1)]
    out: list[date] = []
    d = date(start.year, start.month, 1)
    if d < start:
        d = _next_month(d)
    while d <= end:
        out.append(d)
        d = _next_month(d)
    return out


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def _days(d: date) -> float:
    return float((d - EPOCH).days)


def _window_counts(
    inputs: RiskInputs, counted: npt.NDArray[np.bool_], lo: float, hi: float, zone_count: int
) -> FloatArray:
    """Incidents per zone with lo <= t < hi, among those marked `counted`."""
    inside = counted & (inputs.t_days >= lo) & (inputs.t_days < hi)
    return np.bincount(
        inputs.pair_zone,
        weights=inside[inputs.pair_incident].astype(np.float64),
        minlength=zone_count,
    ).astype(np.float64)


def fit_half_life_weights(
    features: npt.ArrayLike,
    outcomes: npt.ArrayLike,
    *,
    background: float = 1e-3,
    iterations: int = 500,
) -> FloatArray:
    """Non-negative weights w maximising the Poisson likelihood of outcomes ~ features @ w + b.

    `features` is (rows, memories): each memory's forecast for a (zone, period); `outcomes` the
    counts that followed. Solved by the EM (multiplicative) update of Poisson mixtures, which
    keeps every weight >= 0 without a solver.
    """
    y = np.asarray(outcomes, dtype=np.float64).ravel()
    x = np.asarray(features, dtype=np.float64).reshape(len(y), -1)
    col = x.sum(axis=0)
    if y.sum() <= 0 or not (col > 0).any():
        return np.zeros(x.shape[1])
    w = np.where(col > 0, 1.0 / x.shape[1], 0.0)
    safe = np.where(col > 0, col, 1.0)
    for _ in range(iterations):
        mu = x @ w + background
        w = w * ((x * (y / mu)[:, None]).sum(axis=0) / safe)
    return w


def _memory_mass(h: float, window_days: float) -> float:
    return float(h / math.log(2) * (1.0 - 2.0 ** (-window_days / h)))


def _config_from_weights(weights: FloatArray, tuning: Tuning, base: RiskConfig) -> RiskConfig:
    """Fitted weights (per memory, in forecast units) -> RiskConfig shares (weight today)."""
    if not (weights > 0).any():
        return dataclasses.replace(base, spillover=tuning.spillover)
    keep = weights > 1e-4 * weights.max()
    ladder = np.asarray(tuning.half_life_ladder, dtype=np.float64)[keep]
    mass = np.array([_memory_mass(h, base.window_days) for h in ladder])
    shares = weights[keep] / mass
    shares = shares / shares.sum()
    return dataclasses.replace(
        base,
        half_lives_days=tuple(float(h) for h in ladder),
        half_life_shares=tuple(float(x) for x in shares),
        spillover=tuning.spillover,
    )


def _ladder_features(
    inputs: RiskInputs,
    conf_w: FloatArray,
    tuning: Tuning,
    base: RiskConfig,
    t_all: FloatArray,
    zone_count: int,
    neighbours: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None,
) -> FloatArray:
    """(steps, zones, memories): each memory's expected incidents per period, before each step."""
    out = np.empty((len(t_all), zone_count, len(tuning.half_life_ladder)))
    for m, h in enumerate(tuning.half_life_ladder):
        one = dataclasses.replace(base, half_lives_days=(h,), half_life_shares=(1.0,))
        per_period = base.forecast_days / _memory_mass(h, base.window_days)
        for j, t in enumerate(t_all):
            out[j, :, m] = per_period * zone_intensity(
                inputs,
                conf_w,
                zone_count=zone_count,
                now_days=float(np.nextafter(t, -np.inf)),  # strictly before the step's 00:00
                config=one,
            )
    if neighbours is not None and tuning.spillover > 0 and len(neighbours[0]):
        a, b = neighbours
        spilled = out.copy()
        for j in range(len(t_all)):
            np.add.at(spilled[j], a, tuning.spillover * out[j][b])
        out = spilled
    return out


def _history_steps(
    inputs: RiskInputs, first: date, last: date, step_days: int | None, min_history_days: int
) -> list[date]:
    """The evaluation calendar extended back to the first incident (plus a warm-up)."""
    begin = EPOCH + timedelta(days=int(np.floor(inputs.t_days.min())) + min_history_days)
    history: list[date] = []
    if step_days is None:
        if begin <= last:
            history = step_dates(begin, last)
    else:
        back = max(0, (first - begin).days // step_days)
        history = step_dates(first - timedelta(days=back * step_days), last, step_days)
    return sorted(set(history) | set(step_dates(first, last, step_days)))


def _neighbour_pairs(
    neighbours: tuple[npt.ArrayLike, npt.ArrayLike] | None,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None:
    if neighbours is None:
        return None
    return np.asarray(neighbours[0], dtype=np.intp), np.asarray(neighbours[1], dtype=np.intp)


def tune_config(
    inputs: RiskInputs,
    *,
    zone_count: int,
    now: date,
    config: RiskConfig | None = None,
    tuning: Tuning | None = None,
    neighbours: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    horizon_days: int = 30,
    min_history_days: int = 180,
) -> RiskConfig:
    """The decay fitted on the monthly periods that ended before `now` (to re-tune a service)."""
    base = config or RiskConfig()
    tune = tuning or Tuning()
    if len(inputs) == 0:
        return base
    steps = [
        d
        for d in _history_steps(inputs, now, now, None, min_history_days)
        if _days(d) + horizon_days <= _days(now)
    ]
    if not steps:
        return base
    t_all = np.array([_days(d) for d in steps])
    conf_w = confidence_weights(inputs, base)
    x = _ladder_features(
        inputs, conf_w, tune, base, t_all, zone_count, _neighbour_pairs(neighbours)
    )
    y = np.array(
        [_window_counts(inputs, conf_w > 0, t, t + horizon_days, zone_count) for t in t_all]
    )
    w = fit_half_life_weights(x, y, background=tune.background, iterations=tune.iterations)
    return _config_from_weights(w, tune, base)


def run_backtest(
    inputs: RiskInputs,
    *,
    zone_count: int,
    zone_area_km2: npt.ArrayLike,
    neighbours: tuple[npt.ArrayLike, npt.ArrayLike] | None,
    start: date,
    end: date,
    step_days: int | None = None,
    horizon_days: int = 30,
    k: int = 10,
    config: RiskConfig | None = None,
    tuning: Tuning | None = None,
    serious_severity: int = 4,
    min_history_days: int = 180,
) -> BacktestResult:
    """Score every zone at each step with what was known before it, compare with what followed.

    A step dated d uses incidents that occurred before d (00:00 UTC) and is judged on those of
    [d, d + horizon). The decay is re-fitted at each step on earlier steps whose horizon had
    ended by d (see `Tuning`): nothing from the period judged is used.
    """
    base = config or RiskConfig()
    tune = tuning or Tuning()
    if horizon_days <= 0:
        raise InvalidField("horizon_days", "give a positive number of days")
    if k <= 0:
        raise InvalidField("k", "give a positive number of zones")
    steps = step_dates(start, end, step_days)
    if not steps or len(inputs) == 0:
        raise InvalidField("start", "no step or no incident to backtest; widen start..end")
    nb = _neighbour_pairs(neighbours)
    conf_w = confidence_weights(inputs, base)
    counted = conf_w > 0
    serious = counted & (inputs.severity >= serious_severity)

    all_steps = _history_steps(inputs, steps[0], steps[-1], step_days, min_history_days)
    t_all = np.array([_days(d) for d in all_steps])
    outcomes = np.array(
        [_window_counts(inputs, counted, t, t + horizon_days, zone_count) for t in t_all]
    )
    features = _ladder_features(inputs, conf_w, tune, base, t_all, zone_count, nb)

    names = [LEVEL_SCORE, MODEL, RISK_SCORE, *(f"last_{d}_days" for d in BASELINE_DAYS)]
    rho: dict[str, list[float]] = {n: [] for n in names}
    top: dict[str, list[float]] = {n: [] for n in names}
    level_steps = np.zeros(6, dtype=np.int64)
    level_serious = np.zeros(6, dtype=np.int64)
    chosen: list[dict[str, Any]] = []
    previous: npt.NDArray[np.intp] | None = None
    for d in steps:
        t = _days(d)
        j = all_steps.index(d)
        known = t_all + horizon_days <= t
        weights = fit_half_life_weights(
            features[known],
            outcomes[known],
            background=tune.background,
            iterations=tune.iterations,
        )
        cfg = _config_from_weights(weights, tune, base)
        chosen.append(
            {
                "step": d.isoformat(),
                "half_lives_days": list(cfg.half_lives_days),
                "half_life_shares": [round(x, 4) for x in cfg.half_life_shares],
                "spillover": cfg.spillover,
                "training_steps": int(known.sum()),
            }
        )
        risks = score_zones(
            inputs,
            zone_count=zone_count,
            zone_area_km2=zone_area_km2,
            now_days=float(np.nextafter(t, -np.inf)),  # strictly before the step's 00:00
            config=cfg,
            previous_levels=previous,
            neighbours=nb,
            top_contributors=0,
        )
        y = outcomes[j]
        methods = {
            LEVEL_SCORE: np.array([r.score for r in risks]),
            MODEL: np.array([r.expected_incidents for r in risks]),
            RISK_SCORE: np.array([r.weighted_score for r in risks]),
        }
        for days in BASELINE_DAYS:
            methods[f"last_{days}_days"] = _window_counts(inputs, counted, t - days, t, zone_count)
        for name, s in methods.items():
            rho[name].append(float(spearman(s, y)[0]))
            top[name].append(float(capture_top_k(s, y, k)[0]))
        levels = np.array([r.level for r in risks], dtype=np.intp)
        hit = _window_counts(inputs, serious, t, t + horizon_days, zone_count) > 0
        level_steps += np.bincount(levels, minlength=6)
        level_serious += np.bincount(levels[hit], minlength=6)
        previous = levels

    return BacktestResult(
        steps=steps,
        horizon_days=horizon_days,
        k=k,
        methods={n: MethodScores(n, np.array(rho[n]), np.array(top[n])) for n in names},
        calibration=[
            CalibrationRow(lv, int(level_steps[lv]), int(level_serious[lv])) for lv in range(1, 6)
        ],
        chosen=chosen,
        level_basis=base.level_basis,
    )


def plot_backtest(result: BacktestResult, path: str | Path) -> None:
    """PNG with rho and top-k capture per step: the level's score against the baselines.

    The headline (the score the level is cut from) is the thick red line, with its mean ± one
    standard error in the legend; the side figures are thin dotted lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(9, 7.5), sharex=True)
    styles = {
        LEVEL_SCORE: ("tab:red", 2.4, "-"),
        MODEL: ("tab:orange", 1.0, ":"),
        RISK_SCORE: ("tab:purple", 1.0, ":"),
    }
    palette = ["tab:blue", "tab:grey", "tab:green", "tab:olive", "tab:cyan"]
    baselines = [n for n in result.methods if n not in styles]
    for n, colour in zip(baselines, palette * len(baselines), strict=False):
        styles[n] = (colour, 1.2, "--")
    for name, m in result.methods.items():
        colour, width, ls = styles[name]
        label = (
            f"{method_label(name)}: ρ {m.mean_rho:.3f} ± {m.se_rho:.3f}, "
            f"top {result.k} {m.mean_top_k:.3f} ± {m.se_top_k:.3f}"
        )
        axes[0].plot(result.steps, m.rho, color=colour, lw=width, ls=ls, label=label)
        axes[1].plot(result.steps, m.top_k, color=colour, lw=width, ls=ls)
    axes[0].set_ylabel("Spearman ρ across zones")
    axes[1].set_ylabel(f"share of incidents in top {result.k}")
    best = result.margins()[result.best_baseline()]
    axes[0].set_title(
        f"Walk-forward backtest, next {result.horizon_days} days: the level's score "
        f"(basis {result.level_basis}) vs incident counts\n"
        f"vs {method_label(best.baseline)}: ρ {best.d_rho:+.3f} ± {best.error_rho:.3f}, "
        f"top {result.k} {best.d_top_k:+.3f} ± {best.error_top_k:.3f}",
        fontsize=10,
    )
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.legend(loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.autofmt_xdate()
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
