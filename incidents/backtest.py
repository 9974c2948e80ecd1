"""Walk-forward backtest of the risk model against simple incident-count baselines."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from incidents.errors import InvalidField
from incidents.risk import (
    RiskConfig,
    RiskInputs,
    confidence_weights,
    score_zones,
    zone_intensity,
)

__all__ = [
    "BASELINE_DAYS",
    "BacktestResult",
    "CalibrationRow",
    "MethodScores",
    "TuningGrid",
    "capture_top_k",
    "plot_backtest",
    "run_backtest",
    "spearman",
    "step_dates",
]

FloatArray = npt.NDArray[np.float64]
EPOCH = date(1970, 1, 1)
BASELINE_DAYS = (30, 90, 180)
MODEL = "model"
RISK_SCORE = "risk_score"


@dataclass(frozen=True, slots=True)
class TuningGrid:
    """Candidate settings; at each step the best on the steps already scored is kept."""

    short_half_lives: tuple[float, ...] = (15.0, 30.0, 60.0, 90.0)
    long_half_lives: tuple[float, ...] = (180.0, 365.0, 730.0)
    short_shares: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    spillovers: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1)

    def candidates(self, base: RiskConfig) -> list[RiskConfig]:
        out: list[RiskConfig] = []
        seen: set[tuple[Any, ...]] = set()
        for hs, hl, share, spill in itertools.product(
            self.short_half_lives, self.long_half_lives, self.short_shares, self.spillovers
        ):
            key = (hs, share, spill) if share >= 1 else (hs, hl, share, spill)
            if key in seen:
                continue
            seen.add(key)
            halves = (hs,) if share >= 1 else (hs, hl)
            shares = (1.0,) if share >= 1 else (share, 1.0 - share)
            out.append(dataclasses.replace(
                base, half_lives_days=halves, half_life_shares=shares, spillover=spill
            ))
        return out


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

    def method_names(self) -> list[str]:
        return list(self.methods)

    def beats_baselines(self) -> bool:
        model = self.methods[MODEL]
        return all(
            model.mean_rho > m.mean_rho and model.mean_top_k > m.mean_top_k
            for name, m in self.methods.items() if name.startswith("last_")
        )

    def calibration_rises(self) -> bool:
        """True when the serious-incident share grows with the level (levels with data only)."""
        shares = [row.share for row in self.calibration if row.zone_steps]
        return all(b > a for a, b in itertools.pairwise(shares))

    def table(self) -> str:
        first, last = self.steps[0], self.steps[-1]
        lines = [
            f"Walk-forward backtest, {len(self.steps)} steps from {first} to {last}, "
            f"horizon {self.horizon_days} days, top {self.k} zones",
            "",
            f"{'method':<34} {'mean rho':>9} {'top-' + str(self.k) + ' capture':>15}",
        ]
        for name, m in self.methods.items():
            lines.append(f"{_method_label(name):<34} {m.mean_rho:>9.3f} {m.mean_top_k:>15.3f}")
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
            "methods": {
                name: {
                    "mean_rho": m.mean_rho,
                    "mean_top_k": m.mean_top_k,
                    "rho": [float(x) for x in m.rho],
                    "top_k": [float(x) for x in m.top_k],
                }
                for name, m in self.methods.items()
            },
            "calibration": [
                {"level": r.level, "zone_steps": r.zone_steps, "serious": r.serious,
                 "share": None if not r.zone_steps else r.share}
                for r in self.calibration
            ],
            "chosen": self.chosen,
        }


def _method_label(name: str) -> str:
    if name == MODEL:
        return "model (expected incidents)"
    if name == RISK_SCORE:
        return "risk score (info: weighted, per exposure)"
    return name.replace("_", " ")


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
    kth = -np.partition(-s, k - 1, axis=1)[:, k - 1:k]
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
        inputs.pair_zone, weights=inside[inputs.pair_incident].astype(np.float64),
        minlength=zone_count,
    ).astype(np.float64)


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
    grid: TuningGrid | None = None,
    serious_severity: int = 4,
    min_history_days: int = 180,
) -> BacktestResult:
    """Score every zone at each step with what was known before it, compare with what followed.

    A step dated d uses incidents that occurred before d (00:00 UTC) and is judged on those of
    [d, d + horizon). The half-lives and the spill-over are picked at each step by a grid search
    over earlier steps whose horizon had ended by d: nothing from the period judged is used.
    """
    base = config or RiskConfig()
    candidates = (grid or TuningGrid()).candidates(base)
    if horizon_days <= 0:
        raise InvalidField("horizon_days", "give a positive number of days")
    if k <= 0:
        raise InvalidField("k", "give a positive number of zones")
    steps = step_dates(start, end, step_days)
    if not steps or len(inputs) == 0:
        raise InvalidField("start", "no step or no incident to backtest; widen start..end")
    counted = confidence_weights(inputs, base) > 0
    serious = counted & (inputs.severity >= serious_severity)
    conf_w = confidence_weights(inputs, base)

    # Training steps run on the same calendar from the first incident (+ warm-up) to the end.
    first_day = EPOCH + timedelta(days=int(np.floor(inputs.t_days.min())) + min_history_days)
    if step_days is None:
        history = step_dates(first_day, steps[-1])
    else:
        back = max(0, (steps[0] - first_day).days // step_days)
        history = step_dates(steps[0] - timedelta(days=back * step_days), steps[-1], step_days)
    all_steps = sorted(set(history) | set(steps))
    t_all = np.array([_days(d) for d in all_steps])
    outcomes = np.array([
        _window_counts(inputs, counted, t, t + horizon_days, zone_count) for t in t_all
    ])
    cand_metrics = _candidate_metrics(
        inputs, conf_w, candidates, t_all, outcomes, zone_count, neighbours, k
    )

    names = [MODEL, RISK_SCORE, *(f"last_{d}_days" for d in BASELINE_DAYS)]
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
        if known.any():
            objective = np.nanmean(cand_metrics[:, known, 0] + cand_metrics[:, known, 1], axis=1)
            best = int(np.nanargmax(objective))
        else:
            best = 0
        cfg = candidates[best]
        chosen.append({
            "step": d.isoformat(),
            "half_lives_days": list(cfg.half_lives_days),
            "half_life_shares": list(cfg.half_life_shares),
            "spillover": cfg.spillover,
            "training_steps": int(known.sum()),
        })
        risks = score_zones(
            inputs, zone_count=zone_count, zone_area_km2=zone_area_km2,
            now_days=float(np.nextafter(t, -np.inf)),  # strictly before the step's 00:00
            config=cfg, previous_levels=previous, neighbours=neighbours, top_contributors=0,
        )
        y = outcomes[j]
        expected = np.array([r.expected_incidents for r in risks])
        score = np.array([r.score for r in risks])
        methods = {MODEL: expected, RISK_SCORE: score}
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
        methods={
            n: MethodScores(n, np.array(rho[n]), np.array(top[n])) for n in names
        },
        calibration=[
            CalibrationRow(lv, int(level_steps[lv]), int(level_serious[lv])) for lv in range(1, 6)
        ],
        chosen=chosen,
    )


def _candidate_metrics(
    inputs: RiskInputs,
    conf_w: FloatArray,
    candidates: Sequence[RiskConfig],
    t_all: FloatArray,
    outcomes: FloatArray,
    zone_count: int,
    neighbours: tuple[npt.ArrayLike, npt.ArrayLike] | None,
    k: int,
) -> FloatArray:
    """(candidate, step, [rho, top-k]) of each candidate's forecast at every step.

    A candidate's forecast is a mix of single-half-life decayed sums plus spill-over, so the sums
    are computed once per half-life and step and the candidates are linear combinations of them.
    """
    halves = sorted({h for c in candidates for h in c.half_lives_days})
    a = b = np.empty(0, dtype=np.intp)
    if neighbours is not None:
        a = np.asarray(neighbours[0], dtype=np.intp)
        b = np.asarray(neighbours[1], dtype=np.intp)
    sums: dict[float, FloatArray] = {}
    for h in halves:
        one = dataclasses.replace(candidates[0], half_lives_days=(h,), half_life_shares=(1.0,))
        sums[h] = np.array([
            zone_intensity(inputs, conf_w, zone_count=zone_count,
                           now_days=float(np.nextafter(t, -np.inf)), config=one)
            for t in t_all
        ])
    out = np.full((len(candidates), len(t_all), 2), np.nan)
    forecasts = np.empty((len(candidates), len(t_all), zone_count))
    for ci, c in enumerate(candidates):
        own = np.zeros((len(t_all), zone_count))
        for h, s in zip(c.half_lives_days, c.half_life_shares, strict=True):
            own += s * sums[h]
        f = own.copy()
        if c.spillover and a.size:
            f += c.spillover * (own[:, b] @ _incidence(a, zone_count))
        forecasts[ci] = f
    for j in range(len(t_all)):
        y = outcomes[j]
        if y.sum() == 0:
            continue
        out[:, j, 0] = spearman(forecasts[:, j, :], y)
        out[:, j, 1] = capture_top_k(forecasts[:, j, :], y, k)
    return out


def _incidence(a: npt.NDArray[np.intp], zone_count: int) -> FloatArray:
    """(pairs, zones) matrix with a 1 at (p, a[p]): sums pair values onto their first zone."""
    m = np.zeros((len(a), zone_count))
    m[np.arange(len(a)), a] = 1.0
    return m


def plot_backtest(result: BacktestResult, path: str | Path) -> None:
    """PNG with rho and top-k capture per step, model against baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    styles = {MODEL: ("tab:red", 2.2, "-"), RISK_SCORE: ("tab:purple", 1.0, ":")}
    palette = ["tab:blue", "tab:grey", "tab:green", "tab:olive", "tab:cyan"]
    baselines = [n for n in result.methods if n not in styles]
    for n, colour in zip(baselines, palette * len(baselines), strict=False):
        styles[n] = (colour, 1.2, "--")
    for name, m in result.methods.items():
        colour, width, ls = styles[name]
        label = f"{_method_label(name)}: mean ρ {m.mean_rho:.3f}, top {result.k} {m.mean_top_k:.3f}"
        axes[0].plot(result.steps, m.rho, color=colour, lw=width, ls=ls, label=label)
        axes[1].plot(result.steps, m.top_k, color=colour, lw=width, ls=ls)
    axes[0].set_ylabel("Spearman ρ across zones")
    axes[1].set_ylabel(f"share of incidents in top {result.k}")
    axes[0].set_title(
        f"Walk-forward backtest: next {result.horizon_days} days, model vs incident counts"
    )
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.legend(loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.autofmt_xdate()
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
